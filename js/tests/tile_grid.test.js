import { test } from "node:test";
import assert from "node:assert/strict";
import { asBytes, composeRGBA, layout, tileAt, tileRect } from "../src/lib/tile_grid.js";
import { lut } from "../src/lib/tile_colormap.js";

test("layout picks a near-square grid and scales tiles to tileSize", () => {
  const lay = layout({ count: 64, height: 28, width: 28, tileSize: 56, gap: 2 });
  assert.equal(lay.cols, 8);
  assert.equal(lay.rows, 8);
  assert.equal(lay.tileW, 56);
  assert.equal(lay.canvasW, 8 * 56 + 9 * 2);
  const fixed = layout({ count: 10, height: 4, width: 8, columns: 4, tileSize: 16, gap: 1 });
  assert.equal(fixed.cols, 4);
  assert.equal(fixed.rows, 3);
  assert.equal(fixed.tileW, 16);
  assert.equal(fixed.tileH, 8);
  assert.equal(layout({ count: 0, height: 5, width: 5 }).canvasW, 0);
});

test("tileAt inverts tileRect and misses gaps and empty cells", () => {
  const lay = layout({ count: 10, height: 10, width: 10, columns: 4, tileSize: 20, gap: 2 });
  for (let i = 0; i < 10; i++) {
    const r = tileRect(lay, i);
    assert.equal(tileAt(lay, r.x, r.y), i);
    assert.equal(tileAt(lay, r.x + r.w - 1, r.y + r.h - 1), i);
  }
  assert.equal(tileAt(lay, 0, 0), -1); // the outer gap
  assert.equal(tileAt(lay, 22 + 0.5, 10), -1); // the gap between tile 0 and 1
  const empty = tileRect({ ...lay, count: 12 }, 11);
  assert.equal(tileAt(lay, empty.x + 1, empty.y + 1), -1); // cell 11 holds no tile
  assert.equal(tileAt(lay, -5, 3), -1);
});

test("composeRGBA places tiles and applies the colormap to one-channel data", () => {
  // two 1x2 tiles side by side: [0, 255] and [128, 0]
  const img = composeRGBA(new Uint8Array([0, 255, 128, 0]), { count: 2, height: 1, width: 2, channels: 1 }, 2, lut("gray"));
  assert.equal(img.width, 4);
  assert.equal(img.height, 1);
  assert.deepEqual([...img.data], [0, 0, 0, 255, 255, 255, 255, 255, 128, 128, 128, 255, 0, 0, 0, 255]);
});

test("composeRGBA keeps RGB tiles as they are and wraps rows", () => {
  const bytes = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]); // three 1x1 RGB tiles
  const img = composeRGBA(bytes, { count: 3, height: 1, width: 1, channels: 3 }, 2, lut("gray"));
  assert.equal(img.width, 2);
  assert.equal(img.height, 2);
  assert.deepEqual([...img.data.slice(0, 8)], [1, 2, 3, 255, 4, 5, 6, 255]);
  assert.deepEqual([...img.data.slice(8, 12)], [7, 8, 9, 255]);
  assert.deepEqual([...img.data.slice(12)], [0, 0, 0, 0]); // the empty cell stays transparent
});

test("composeRGBA refuses data whose length does not match the shape", () => {
  assert.throws(() => composeRGBA(new Uint8Array(5), { count: 1, height: 2, width: 2, channels: 1 }, 1, lut("gray")),
    /5 bytes, expected 1x2x2x1 = 4/);
});

test("asBytes accepts DataView, ArrayBuffer and Uint8Array", () => {
  const buf = new Uint8Array([9, 8, 7, 6]).buffer;
  assert.deepEqual([...asBytes(new DataView(buf, 1, 2))], [8, 7]);
  assert.deepEqual([...asBytes(buf)], [9, 8, 7, 6]);
  assert.deepEqual([...asBytes(null)], []);
});
