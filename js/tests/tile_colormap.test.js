import { test } from "node:test";
import assert from "node:assert/strict";
import { COLORMAPS, lut } from "../src/lib/tile_colormap.js";

test("every colormap is a 256x3 table running from its first stop to its last", () => {
  for (const name of COLORMAPS) {
    const t = lut(name);
    assert.equal(t.length, 768, name);
  }
  const gray = lut("gray");
  assert.deepEqual([...gray.slice(0, 3)], [0, 0, 0]);
  assert.deepEqual([...gray.slice(765)], [255, 255, 255]);
  assert.deepEqual([...gray.slice(128 * 3, 128 * 3 + 3)], [128, 128, 128]);
  assert.deepEqual([...lut("viridis").slice(0, 3)], [68, 1, 84]);
  assert.deepEqual([...lut("viridis").slice(765)], [253, 231, 37]);
});

test("unknown colormap names are refused with the list of known ones", () => {
  assert.throws(() => lut("jet"), /unknown colormap "jet".*viridis/);
});

test("orangeblue is diverging: orange below, white in the middle, blue above", () => {
  const t = lut("orangeblue");
  assert.deepEqual([...t.slice(0, 3)], [245, 147, 34]);
  assert.deepEqual([...t.slice(765)], [8, 119, 189]);
  const mid = [...t.slice(128 * 3, 128 * 3 + 3)];
  assert.ok(mid.every((v) => v > 245), `${mid}`);
});
