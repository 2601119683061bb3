// Pure logic of the network diagram: where the nodes go, which node is under the pointer,
// how the flat weight buffer splits into one matrix per layer, and how an edge is drawn.

export const POSITIVE = [8, 119, 189]; // blue, as class 1 and positive values in the maps
export const NEGATIVE = [245, 147, 34]; // orange, as class 0 and negative values

/**
 * Node positions for layer sizes `sizes` (inputs, hidden..., outputs).
 * @param {{sizes:number[], nodeSize?:number, maxHeight?:number, left?:number, right?:number, top?:number}} o
 * @returns {{nodes:{x:number,y:number,size:number,layer:number,unit:number}[], width:number,
 *   height:number, columns:number[], size:number}}
 */
export function networkLayout({ sizes, nodeSize = 36, maxHeight = 520, left = 64, right = 96, top = 22 }) {
  const clean = (sizes || []).map((n) => (Number.isInteger(n) && n > 0 ? n : 0));
  const tallest = Math.max(1, ...clean);
  const size = Math.max(12, Math.min(nodeSize, Math.floor((maxHeight - top) / (tallest * 1.3))));
  const gapY = Math.round(size * 0.3);
  const spacing = Math.max(Math.round(size * 2.8), 96);
  const height = top + tallest * (size + gapY) + gapY;
  const columns = clean.map((_, l) => left + l * spacing);
  const nodes = [];
  clean.forEach((n, layer) => {
    const column = n * (size + gapY) - gapY;
    const y0 = top + gapY + ((tallest * (size + gapY) - gapY) - column) / 2;
    for (let unit = 0; unit < n; unit++) {
      nodes.push({ x: columns[layer], y: y0 + unit * (size + gapY), size, layer, unit });
    }
  });
  const width = clean.length ? columns[clean.length - 1] + size + right : 0;
  return { nodes, width, height, columns, size };
}

/** Index of the node under (x, y), or -1. */
export function nodeAt(lay, x, y) {
  for (let i = 0; i < lay.nodes.length; i++) {
    const n = lay.nodes[i];
    if (x >= n.x && x < n.x + n.size && y >= n.y && y < n.y + n.size) return i;
  }
  return -1;
}

/**
 * The flat float32 weights (layer by layer, each out x in row-major) as one matrix per
 * connection between consecutive layers; throws when the length does not match `sizes`.
 */
export function splitWeights(flat, sizes) {
  const mats = [];
  let offset = 0;
  for (let l = 0; l + 1 < sizes.length; l++) {
    const n = sizes[l] * sizes[l + 1];
    mats.push({ rows: sizes[l + 1], cols: sizes[l], values: flat.subarray(offset, offset + n) });
    offset += n;
  }
  if (offset !== flat.length) {
    throw new Error(`weights hold ${flat.length} values; layers ${sizes.join("-")} need ${offset}`);
  }
  return mats;
}

/** The largest finite |w| (0 when none). */
export function maxAbs(values) {
  let m = 0;
  for (const v of values) if (Number.isFinite(v) && Math.abs(v) > m) m = Math.abs(v);
  return m;
}

/** Line width (px) and RGBA colour of an edge of weight `w`, relative to `scale` (max |w|). */
export function edgeStyle(w, scale, maxWidth = 6) {
  const ok = Number.isFinite(w) && Number.isFinite(scale) && scale > 0;
  const t = ok ? Math.min(Math.abs(w) / scale, 1) : 0;
  const [r, g, b] = ok && w < 0 ? NEGATIVE : POSITIVE;
  return { width: 0.4 + t * (maxWidth - 0.4), color: `rgba(${r},${g},${b},${(0.15 + 0.8 * t).toFixed(3)})` };
}
