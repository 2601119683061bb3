// Thumbnails sent once as one uint8 buffer: n images of h x w x c (c = 1 grey or 3 RGB), row-major.

/** Writes thumbnail i of the atlas into an ImageData-like {data, width, height}; false if absent. */
export function thumbnailInto(target, atlas, shape, i) {
  const [h, w, c] = shape;
  const size = h * w * c;
  if (!(h > 0 && w > 0 && (c === 1 || c === 3 || c === 4))) return false;
  if (i < 0 || (i + 1) * size > atlas.length) return false;
  const src = atlas.subarray(i * size, (i + 1) * size);
  const dst = target.data;
  for (let p = 0, q = 0; p < h * w; p++, q += c) {
    const o = 4 * p;
    if (c === 1) { dst[o] = dst[o + 1] = dst[o + 2] = src[q]; }
    else { dst[o] = src[q]; dst[o + 1] = src[q + 1]; dst[o + 2] = src[q + 2]; }
    dst[o + 3] = c === 4 ? src[q + 3] : 255;
  }
  return true;
}

/** How many complete thumbnails the atlas holds. */
export function thumbnailCount(atlas, shape) {
  const [h, w, c] = shape || [0, 0, 0];
  const size = h * w * c;
  return size > 0 ? Math.floor(atlas.length / size) : 0;
}
