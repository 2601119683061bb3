// Colormaps as 256-entry RGB lookup tables, built from 17 evenly spaced stops
// (sampled from matplotlib), linearly interpolated.

const STOPS = {
  gray: [[0, 0, 0], [255, 255, 255]],
  viridis: [[68, 1, 84], [72, 24, 106], [71, 45, 123], [66, 64, 134], [59, 82, 139], [51, 99, 141], [44, 114, 142], [38, 130, 142], [33, 145, 140], [31, 160, 136], [40, 174, 128], [63, 188, 115], [94, 201, 98], [132, 212, 75], [173, 220, 48], [216, 226, 25], [253, 231, 37]],
  magma: [[0, 0, 4], [10, 8, 34], [29, 17, 71], [54, 16, 107], [81, 18, 124], [106, 28, 129], [131, 38, 129], [156, 46, 127], [183, 55, 121], [208, 65, 111], [231, 82, 99], [245, 107, 92], [252, 137, 97], [254, 167, 114], [254, 196, 136], [253, 226, 163], [252, 253, 191]],
  inferno: [[0, 0, 4], [11, 7, 36], [33, 12, 74], [61, 9, 101], [87, 16, 110], [113, 25, 110], [138, 34, 106], [163, 44, 97], [188, 55, 84], [210, 70, 68], [228, 90, 49], [241, 115, 29], [249, 142, 9], [252, 172, 17], [249, 203, 53], [242, 234, 105], [252, 255, 164]],
  // diverging like the TensorFlow playground: orange (negative, class 0), white (0), blue (positive, class 1)
  orangeblue: [[245, 147, 34], [250, 201, 144], [255, 255, 255], [132, 187, 222], [8, 119, 189]],
  coolwarm: [[59, 76, 192], [78, 104, 216], [98, 130, 234], [119, 154, 247], [141, 176, 254], [163, 194, 254], [185, 208, 249], [204, 217, 237], [221, 220, 220], [236, 211, 197], [245, 196, 172], [247, 176, 147], [244, 152, 122], [235, 125, 98], [221, 95, 75], [202, 59, 55], [180, 4, 38]],
};

export const COLORMAPS = Object.keys(STOPS);

const cache = new Map();

/** A Uint8Array of 256*3 RGB values for `name`; unknown names throw. */
export function lut(name) {
  if (cache.has(name)) return cache.get(name);
  const stops = STOPS[name];
  if (!stops) throw new Error(`unknown colormap ${JSON.stringify(name)}; use one of ${COLORMAPS.join(", ")}`);
  const table = new Uint8Array(256 * 3);
  const segments = stops.length - 1;
  for (let v = 0; v < 256; v++) {
    const pos = (v / 255) * segments;
    const i = Math.min(Math.floor(pos), segments - 1);
    const t = pos - i;
    for (let c = 0; c < 3; c++) {
      table[v * 3 + c] = Math.round(stops[i][c] * (1 - t) + stops[i + 1][c] * t);
    }
  }
  cache.set(name, table);
  return table;
}
