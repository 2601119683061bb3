import { test } from "node:test";
import assert from "node:assert/strict";
import { edgeStyle, maxAbs, networkLayout, nodeAt, splitWeights } from "../src/lib/network_layout.js";

test("nodes are laid out by layer, centred, and found again under the pointer", () => {
  const lay = networkLayout({ sizes: [2, 4, 2], nodeSize: 30 });
  assert.equal(lay.nodes.length, 8);
  assert.deepEqual(lay.nodes.map((n) => n.layer), [0, 0, 1, 1, 1, 1, 2, 2]);
  const [a, b] = [lay.nodes[0], lay.nodes[1]];
  assert.ok(b.y > a.y && a.x === b.x);
  const first = lay.nodes[2], last = lay.nodes[5];
  const centre = (first.y + last.y + last.size) / 2;
  assert.ok(Math.abs((a.y + b.y + b.size) / 2 - centre) < 1e-9, "short columns are centred");
  for (let i = 0; i < lay.nodes.length; i++) {
    const n = lay.nodes[i];
    assert.equal(nodeAt(lay, n.x + 1, n.y + 1), i);
    assert.equal(nodeAt(lay, n.x + n.size - 0.5, n.y + n.size - 0.5), i);
  }
  assert.equal(nodeAt(lay, 0, 0), -1);
  assert.ok(lay.width > lay.nodes[7].x + lay.size && lay.height > lay.nodes[5].y + lay.size);
});

test("tall columns shrink the nodes to fit the height; bad sizes draw nothing", () => {
  const lay = networkLayout({ sizes: [7, 16, 16, 2], nodeSize: 40, maxHeight: 400 });
  assert.ok(lay.size < 40 && lay.height <= 420, `${lay.size} ${lay.height}`);
  const empty = networkLayout({ sizes: [] });
  assert.equal(empty.nodes.length, 0);
  assert.equal(empty.width, 0);
  assert.equal(networkLayout({ sizes: [2, -1, 1.5, 2] }).nodes.length, 4);
});

test("the flat weights split into one out x in matrix per connection", () => {
  const flat = Float32Array.from({ length: 2 * 3 + 3 * 2 }, (_, i) => i);
  const mats = splitWeights(flat, [2, 3, 2]);
  assert.equal(mats.length, 2);
  assert.deepEqual([mats[0].rows, mats[0].cols, mats[1].rows, mats[1].cols], [3, 2, 2, 3]);
  assert.equal(mats[1].values[0], 6);
  assert.throws(() => splitWeights(flat, [2, 4, 2]), /weights hold 12 values; layers 2-4-2 need 16/);
});

test("edges: colour by sign, width by magnitude, always finite", () => {
  const strong = edgeStyle(-2, 2);
  const weak = edgeStyle(0.2, 2);
  assert.ok(strong.width > weak.width);
  assert.match(strong.color, /^rgba\(245,147,34,/);
  assert.match(weak.color, /^rgba\(8,119,189,/);
  for (const [w, s] of [[0, 0], [NaN, 1], [1, NaN], [Infinity, 1], [1, Infinity], [5, 1]]) {
    const e = edgeStyle(w, s);
    assert.ok(Number.isFinite(e.width) && e.width > 0 && e.width <= 6, `${w} ${s}`);
    assert.doesNotMatch(e.color, /NaN|Infinity/);
  }
  assert.equal(maxAbs(Float32Array.from([1, -3, NaN, Infinity])), 3);
  assert.equal(maxAbs(new Float32Array(0)), 0);
});
