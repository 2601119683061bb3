// Pure logic of the image grid: layout, hit testing, and composing uint8 tiles into RGBA.

/** Bytes of a traitlets.Bytes value as a Uint8Array (the front end may get a DataView). */
export function asBytes(value) {
  if (value == null) return new Uint8Array(0);
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw new Error(`image data must be bytes, got ${typeof value}`);
}

/**
 * Where the tiles go on the canvas.
 * @param {{count:number, height:number, width:number, columns?:number, tileSize?:number, gap?:number}} o
 *   columns 0 picks a near-square grid; tileSize is the display size of a tile's longer side.
 */
export function layout({ count, height, width, columns = 0, tileSize = 64, gap = 2 }) {
  if (count <= 0 || height <= 0 || width <= 0) {
    return { count: 0, cols: 0, rows: 0, scale: 1, tileW: 0, tileH: 0, gap, canvasW: 0, canvasH: 0 };
  }
  const cols = columns > 0 ? Math.min(columns, count) : Math.ceil(Math.sqrt(count));
  const rows = Math.ceil(count / cols);
  const scale = Math.max(tileSize, 1) / Math.max(height, width);
  const tileW = Math.max(1, Math.round(width * scale));
  const tileH = Math.max(1, Math.round(height * scale));
  return {
    count, cols, rows, scale, tileW, tileH, gap,
    canvasW: cols * tileW + (cols + 1) * gap,
    canvasH: rows * tileH + (rows + 1) * gap,
  };
}

/** Display rectangle of tile `i`. */
export function tileRect(lay, i) {
  const col = i % lay.cols;
  const row = Math.floor(i / lay.cols);
  return { x: lay.gap + col * (lay.tileW + lay.gap), y: lay.gap + row * (lay.tileH + lay.gap), w: lay.tileW, h: lay.tileH };
}

/** Index of the tile under display point (x, y), or -1 (gaps and empty cells included). */
export function tileAt(lay, x, y) {
  if (lay.count === 0 || x < 0 || y < 0) return -1;
  const col = Math.floor((x - lay.gap) / (lay.tileW + lay.gap));
  const row = Math.floor((y - lay.gap) / (lay.tileH + lay.gap));
  if (col < 0 || row < 0 || col >= lay.cols || row >= lay.rows) return -1;
  const r = tileRect(lay, row * lay.cols + col);
  if (x < r.x || x >= r.x + r.w || y < r.y || y >= r.y + r.h) return -1;
  const index = row * lay.cols + col;
  return index < lay.count ? index : -1;
}

/**
 * Compose `count` tiles (uint8, tile-major: count x height x width x channels) into one RGBA
 * image of cols x rows tiles at native resolution. One channel goes through `table` (a 256x3
 * colormap LUT); three channels are RGB as they are.
 */
export function composeRGBA(bytes, { count, height, width, channels }, cols, table) {
  const expected = count * height * width * channels;
  if (bytes.length !== expected) {
    throw new Error(`image data has ${bytes.length} bytes, expected ${count}x${height}x${width}x${channels} = ${expected}`);
  }
  if (channels !== 1 && channels !== 3) throw new Error(`channels must be 1 or 3, got ${channels}`);
  const rows = Math.ceil(count / cols);
  const outW = cols * width;
  const out = new Uint8ClampedArray(outW * rows * height * 4);
  const tilePixels = height * width;
  for (let t = 0; t < count; t++) {
    const ox = (t % cols) * width;
    const oy = Math.floor(t / cols) * height;
    const base = t * tilePixels * channels;
    for (let y = 0; y < height; y++) {
      let o = ((oy + y) * outW + ox) * 4;
      let s = base + y * width * channels;
      for (let x = 0; x < width; x++, o += 4) {
        if (channels === 1) {
          const v = bytes[s++] * 3;
          out[o] = table[v]; out[o + 1] = table[v + 1]; out[o + 2] = table[v + 2];
        } else {
          out[o] = bytes[s]; out[o + 1] = bytes[s + 1]; out[o + 2] = bytes[s + 2];
          s += 3;
        }
        out[o + 3] = 255;
      }
    }
  }
  return { data: out, width: outW, height: rows * height };
}
