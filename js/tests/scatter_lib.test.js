import { test } from "node:test";
import assert from "node:assert/strict";
import { GridIndex, pointInPolygon } from "../src/lib/grid.js";
import { fitView, dataToScreen, screenToData, zoomAt, panBy } from "../src/lib/transform.js";
import { categoricalPalette, fillColors, legendEntries, viridis, valueRange, hexToRgb } from "../src/lib/colors.js";
import { thumbnailInto, thumbnailCount } from "../src/lib/atlas.js";
import { tooltipText } from "../src/lib/tooltip.js";
import { asFloat32, asInt32, asUint8 } from "../src/lib/buffers.js";
import { interpolate, ease } from "../src/lib/renderer.js";

function randomPoints(n, seed = 1) {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const xy = new Float32Array(2 * n);
  for (let i = 0; i < 2 * n; i++) xy[i] = rnd() * 100 - 50;
  return xy;
}

test("grid nearest agrees with brute force", () => {
  const xy = randomPoints(5000);
  const grid = new GridIndex(xy);
  for (let q = 0; q < 200; q++) {
    const x = (q * 7.3) % 100 - 50, y = (q * 13.1) % 100 - 50, r = 1.5;
    let best = -1, bd = r * r;
    for (let i = 0; i < 5000; i++) {
      const d = (xy[2 * i] - x) ** 2 + (xy[2 * i + 1] - y) ** 2;
      if (d < bd || (d === bd && i > best)) { bd = d; best = i; }
    }
    assert.equal(grid.nearest(x, y, r), best);
  }
});

test("grid nearest returns -1 far away and handles NaN points", () => {
  const xy = new Float32Array([0, 0, NaN, 1, 1, 1]);
  const grid = new GridIndex(xy);
  assert.equal(grid.nearest(100, 100, 1), -1);
  assert.equal(grid.nearest(0.9, 0.9, 0.5), 2);
});

test("box and polygon selections match brute force", () => {
  const xy = randomPoints(3000, 7);
  const grid = new GridIndex(xy);
  const box = grid.inBox(10, -5, -20, 30);
  const expect = [];
  for (let i = 0; i < 3000; i++) {
    const x = xy[2 * i], y = xy[2 * i + 1];
    if (x >= -20 && x <= 10 && y >= -5 && y <= 30) expect.push(i);
  }
  assert.deepEqual(box, expect);
  const tri = [[0, 0], [40, 0], [0, 40]];
  const inTri = grid.inPolygon(tri);
  assert.ok(inTri.length > 0);
  for (const i of inTri) assert.ok(xy[2 * i] + xy[2 * i + 1] <= 40 && xy[2 * i] >= 0 && xy[2 * i + 1] >= 0);
  assert.equal(pointInPolygon(5, 5, tri), true);
  assert.equal(pointInPolygon(30, 30, tri), false);
  assert.deepEqual(grid.inPolygon([[0, 0], [1, 1]]), []);
});

test("single point and empty grids work", () => {
  assert.equal(new GridIndex(new Float32Array([3, 4])).nearest(3, 4, 0.1), 0);
  assert.equal(new GridIndex(new Float32Array(0)).nearest(0, 0, 1), -1);
});

test("view transforms round-trip and zoom keeps the anchor fixed", () => {
  const view = fitView(new Float32Array([-1, -2, 3, 6]), 400, 300);
  assert.ok(view.scale > 0);
  const [sx, sy] = dataToScreen(view, 3, 6, 400, 300);
  assert.ok(sx <= 400 && sy >= 0);
  const [x, y] = screenToData(view, sx, sy, 400, 300);
  assert.ok(Math.abs(x - 3) < 1e-9 && Math.abs(y - 6) < 1e-9);
  const z = zoomAt(view, 2, 100, 50, 400, 300);
  const before = screenToData(view, 100, 50, 400, 300), after = screenToData(z, 100, 50, 400, 300);
  assert.ok(Math.abs(before[0] - after[0]) < 1e-9 && Math.abs(before[1] - after[1]) < 1e-9);
  assert.equal(z.scale, 2 * view.scale);
  const p = panBy(view, 10, 0);
  assert.ok(Math.abs(dataToScreen(p, 3, 6, 400, 300)[0] - (sx + 10)) < 1e-9);
  assert.deepEqual(fitView(new Float32Array([NaN, NaN]), 10, 10), { cx: 0, cy: 0, scale: 1 });
});

test("colours: palette, values, selection fading and legend", () => {
  assert.equal(categoricalPalette(3).length, 10);
  assert.equal(categoricalPalette(15).length, 20);
  assert.equal(categoricalPalette(40).length, 40);
  assert.deepEqual(categoricalPalette(2, ["#ff0000", "#00ff00"]), [[255, 0, 0], [0, 255, 0]]);
  assert.deepEqual(hexToRgb("bad"), [128, 128, 128]);
  assert.deepEqual(viridis(0), [68, 1, 84]);
  assert.deepEqual(viridis(1), [253, 231, 37]);
  assert.deepEqual(valueRange(new Float32Array([NaN, 2, -1])), [-1, 2]);
  const rgba = new Uint8Array(12);
  const pal = categoricalPalette(2, ["#ff0000", "#0000ff"]);
  fillColors(rgba, 3, { mode: "category", categories: new Uint8Array([0, 1, 0]), values: new Float32Array(0),
    palette: pal, selectedMask: new Uint8Array([0, 1, 0]) });
  assert.deepEqual([...rgba.slice(0, 4)], [255, 0, 0, 28]);
  assert.deepEqual([...rgba.slice(4, 8)], [0, 0, 255, 210]);
  const range = fillColors(rgba, 3, { mode: "value", categories: new Uint8Array(0),
    values: new Float32Array([0, 5, 10]), palette: pal, selectedMask: new Uint8Array(3) });
  assert.deepEqual([range.lo, range.hi], [0, 10]);
  assert.deepEqual([...rgba.slice(8, 11)], [253, 231, 37]);
  const leg = legendEntries("category", ["a", "b"], pal, [0, 1]);
  assert.equal(leg.items[1].color, "rgb(0,0,255)");
  assert.equal(legendEntries("value", [], pal, [0, 1]).kind, "range");
});

test("atlas thumbnails decode grey and rgb, refuse out of range", () => {
  const grey = new Uint8Array([1, 2, 3, 4, 10, 20, 30, 40]);
  const target = { data: new Uint8ClampedArray(16) };
  assert.equal(thumbnailCount(grey, [2, 2, 1]), 2);
  assert.ok(thumbnailInto(target, grey, [2, 2, 1], 1));
  assert.deepEqual([...target.data.slice(0, 4)], [10, 10, 10, 255]);
  assert.equal(thumbnailInto(target, grey, [2, 2, 1], 2), false);
  assert.equal(thumbnailInto(target, grey, [2, 2, 0], 0), false);
  const rgb = new Uint8Array([9, 8, 7]);
  const t1 = { data: new Uint8ClampedArray(4) };
  assert.ok(thumbnailInto(t1, rgb, [1, 1, 3], 0));
  assert.deepEqual([...t1.data], [9, 8, 7, 255]);
});

test("tooltip text names label, prediction, confidence and correctness", () => {
  const info = { labels: new Int32Array([3, 1]), predictions: new Int32Array([3, -1]),
    confidences: new Float32Array([0.875, 0]), names: ["a", "b", "c", "d"], losses: new Float32Array([0.1234]) };
  assert.deepEqual(tooltipText(0, info), ["#0", "label: d", "prediction: d (87.5%)", "correct", "loss: 0.123"]);
  assert.deepEqual(tooltipText(1, info), ["#1", "label: b"]);
  assert.deepEqual(tooltipText(5, info), ["#5"]);
});

test("buffers view DataViews without copying and reject odd sizes", () => {
  const f = new Float32Array([1.5, -2]);
  const dv = new DataView(f.buffer);
  assert.deepEqual([...asFloat32(dv)], [1.5, -2]);
  assert.deepEqual([...asInt32(new DataView(new Int32Array([7]).buffer))], [7]);
  assert.equal(asFloat32(new Uint8Array(3)).length, 0);
  assert.equal(asUint8(null).length, 0);
  const unaligned = new DataView(new Uint8Array([0, ...new Uint8Array(f.buffer)]).buffer, 1, 8);
  assert.deepEqual([...asFloat32(unaligned)], [1.5, -2]);
});

test("interpolation and easing", () => {
  assert.deepEqual([...interpolate(new Float32Array([0, 0]), new Float32Array([2, 4]), 0.5)], [1, 2]);
  assert.equal(ease(0), 0);
  assert.equal(ease(1), 1);
  assert.equal(ease(0.5), 0.5);
});
