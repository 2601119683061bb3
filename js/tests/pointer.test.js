import { test } from "node:test";
import assert from "node:assert/strict";
import { canvasPoint, wirePointer } from "../src/lib/pointer.js";

// A canvas of 200 x 100 pixels shown at 100 x 50 CSS pixels, 10 px from the page's corner.
function fakeCanvas() {
  const listeners = new Map();
  return {
    width: 200,
    height: 100,
    getBoundingClientRect: () => ({ left: 10, top: 10, width: 100, height: 50 }),
    addEventListener: (type, f) => listeners.set(type, f),
    removeEventListener: (type, f) => { if (listeners.get(type) === f) listeners.delete(type); },
    fire: (type, event = {}) => listeners.get(type)?.(event),
    listeners,
  };
}

test("canvasPoint undoes the CSS scaling", () => {
  assert.deepEqual(canvasPoint(fakeCanvas(), { clientX: 60, clientY: 35 }), [100, 50]);
});

test("clicks on an item are sent, clicks on nothing are not", () => {
  const canvas = fakeCanvas();
  const sent = [];
  const hit = (x) => (x < 100 ? 0 : -1);
  wirePointer(canvas, { send: (m) => sent.push(m) }, hit);
  canvas.fire("click", { clientX: 20, clientY: 20 });
  canvas.fire("click", { clientX: 100, clientY: 20 });
  assert.deepEqual(sent, [{ type: "click", index: 0 }]);
});

test("moves reach onMove at once, leaving reports -1, unwiring removes every listener", () => {
  const canvas = fakeCanvas();
  const moves = [];
  const unwire = wirePointer(canvas, { send: () => {} }, (x) => Math.floor(x / 50), (i) => moves.push(i));
  canvas.fire("mousemove", { clientX: 40, clientY: 20 }); // canvas x 60: item 1
  canvas.fire("mouseleave");
  assert.deepEqual(moves, [1, -1]);
  unwire();
  assert.equal(canvas.listeners.size, 0);
});
