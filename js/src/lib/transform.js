// The pan/zoom view: data (x, y up) <-> screen pixels (x right, y down).
// screen = (data - center) * scale, flipped in y, about the canvas centre.

/** A view that fits all finite points of xy into a width x height canvas with a margin. */
export function fitView(xy, width, height, margin = 0.06) {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (let i = 0; i + 1 < xy.length; i += 2) {
    const x = xy[i], y = xy[i + 1];
    if (!(Number.isFinite(x) && Number.isFinite(y))) continue;
    if (x < x0) x0 = x; if (x > x1) x1 = x;
    if (y < y0) y0 = y; if (y > y1) y1 = y;
  }
  if (!(x1 >= x0)) return { cx: 0, cy: 0, scale: 1 };
  const w = Math.max(x1 - x0, 1e-9), h = Math.max(y1 - y0, 1e-9);
  const usable = 1 - 2 * margin;
  const scale = Math.min((width * usable) / w, (height * usable) / h);
  return { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, scale };
}

export function dataToScreen(view, x, y, width, height) {
  return [(x - view.cx) * view.scale + width / 2, height / 2 - (y - view.cy) * view.scale];
}

export function screenToData(view, sx, sy, width, height) {
  return [(sx - width / 2) / view.scale + view.cx, (height / 2 - sy) / view.scale + view.cy];
}

/** The view zoomed by factor about screen point (sx, sy), which stays fixed. */
export function zoomAt(view, factor, sx, sy, width, height) {
  const [dx, dy] = screenToData(view, sx, sy, width, height);
  const scale = Math.min(1e9, Math.max(1e-9, view.scale * factor));
  return {
    scale,
    cx: dx - (sx - width / 2) / scale,
    cy: dy - (height / 2 - sy) / scale,
  };
}

/** The view moved by a drag of (dxPx, dyPx) screen pixels. */
export function panBy(view, dxPx, dyPx) {
  return { scale: view.scale, cx: view.cx - dxPx / view.scale, cy: view.cy + dyPx / view.scale };
}
