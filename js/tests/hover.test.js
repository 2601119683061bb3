import { test } from "node:test";
import assert from "node:assert/strict";
import { hoverReporter } from "../src/lib/hover.js";

function fakeTimers() {
  let next = 1;
  const pending = new Map();
  return {
    set: (f) => { const id = next++; pending.set(id, f); return id; },
    clear: (id) => pending.delete(id),
    fire() { const fs = [...pending.values()]; pending.clear(); fs.forEach((f) => f()); },
    get count() { return pending.size; },
  };
}

test("a hover is reported once the pointer rests, not for every move", () => {
  const timers = fakeTimers();
  const sent = [];
  const r = hoverReporter((i) => sent.push(i), 100, timers);
  r.move(3); r.move(3); r.move(4); r.move(4);
  assert.equal(timers.count, 1); // moving on cancels the earlier report
  timers.fire();
  assert.deepEqual(sent, [4]);
  r.move(4); // resting on the reported index sends nothing more
  assert.equal(timers.count, 0);
  r.move(-1);
  timers.fire();
  assert.deepEqual(sent, [4, -1]);
});

test("passing over a tile and back before the delay sends nothing", () => {
  const timers = fakeTimers();
  const sent = [];
  const r = hoverReporter((i) => sent.push(i), 100, timers);
  r.move(2); timers.fire();
  r.move(5); r.move(2); // back to the reported tile before the timer fired
  timers.fire();
  assert.deepEqual(sent, [2]);
  r.move(NaN); r.move(undefined); timers.fire();
  assert.deepEqual(sent, [2, -1]);
  r.move(7); r.cancel(); timers.fire();
  assert.deepEqual(sent, [2, -1]);
});
