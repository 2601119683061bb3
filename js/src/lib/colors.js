// Point colours: categorical palettes, a continuous colormap, and the legend entries.

export const TAB10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
export const TAB20 = ["#1f77b4", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a",
  "#d62728", "#ff9896", "#9467bd", "#c5b0d5", "#8c564b", "#c49c94", "#e377c2", "#f7b6d2",
  "#7f7f7f", "#c7c7c7", "#bcbd22", "#dbdb8d", "#17becf", "#9edae5"];
// viridis, sampled at 9 stops
const VIRIDIS = [[68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
  [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37]];

export function hexToRgb(hex) {
  const m = /^#?([0-9a-f]{6})$/i.exec(String(hex).trim());
  if (!m) return [128, 128, 128];
  const v = parseInt(m[1], 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

/** The palette (list of [r,g,b]) for k categories, or the given hex colours. */
export function categoricalPalette(k, custom = []) {
  if (custom && custom.length) return custom.map(hexToRgb);
  if (k <= 10) return TAB10.map(hexToRgb);
  if (k <= 20) return TAB20.map(hexToRgb);
  const out = [];
  for (let i = 0; i < k; i++) out.push(hslToRgb((i * 0.618034) % 1, 0.65, 0.5));
  return out;
}

export function hslToRgb(h, s, l) {
  const f = (n) => {
    const k = (n + h * 12) % 12;
    const a = s * Math.min(l, 1 - l);
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}

/** viridis(t) for t in [0, 1] as [r, g, b]. */
export function viridis(t) {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x)), f = x - i;
  const a = VIRIDIS[i], b = VIRIDIS[i + 1];
  return [0, 1, 2].map((c) => Math.round(a[c] + (b[c] - a[c]) * f));
}

/** Finite [min, max] of values (robust to NaN); [0, 1] when none. */
export function valueRange(values) {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
  }
  return hi >= lo ? [lo, hi] : [0, 1];
}

/**
 * Fills rgba (Uint8Array, 4 per point) for n points.
 * mode "category": categories[i] indexes the palette; mode "value": values mapped by viridis.
 * Points that are not selected (when a selection exists) are faded.
 */
export function fillColors(rgba, n, { mode, categories, values, palette, selectedMask, alpha = 210 }) {
  const hasSel = selectedMask && selectedMask.some ? selectedMask.some((v) => v) : false;
  let lo = 0, hi = 1;
  if (mode === "value") [lo, hi] = valueRange(values);
  const span = hi > lo ? hi - lo : 1;
  for (let i = 0; i < n; i++) {
    let c;
    if (mode === "value" && i < values.length) c = viridis((values[i] - lo) / span);
    else if (mode === "category" && i < categories.length && palette.length) c = palette[categories[i] % palette.length];
    else c = [90, 110, 140];
    const o = 4 * i;
    rgba[o] = c[0]; rgba[o + 1] = c[1]; rgba[o + 2] = c[2];
    rgba[o + 3] = hasSel && !selectedMask[i] ? 28 : alpha;
  }
  return { lo, hi };
}

/** Legend entries: [{label, color: "rgb(...)"}] for categories, or a range for values. */
export function legendEntries(mode, names, palette, range) {
  if (mode === "value") {
    return { kind: "range", lo: range[0], hi: range[1], stops: [0, 0.25, 0.5, 0.75, 1].map(viridis) };
  }
  return {
    kind: "categories",
    items: names.map((label, i) => ({ label, color: `rgb(${palette[i % palette.length].join(",")})` })),
  };
}
