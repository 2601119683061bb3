// A uniform-grid spatial index over 2-D points for hover hit-testing and box/lasso queries.
// Built in O(n) with a counting sort; a query visits only the cells it overlaps.

export class GridIndex {
  /**
   * @param {Float32Array} xy interleaved x,y of n points (data coordinates)
   * @param {number} [perCell] target points per cell on average
   */
  constructor(xy, perCell = 4) {
    const n = Math.floor(xy.length / 2);
    this.xy = xy;
    this.n = n;
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (let i = 0; i < n; i++) {
      const x = xy[2 * i], y = xy[2 * i + 1];
      if (!(Number.isFinite(x) && Number.isFinite(y))) continue;
      if (x < x0) x0 = x; if (x > x1) x1 = x;
      if (y < y0) y0 = y; if (y > y1) y1 = y;
    }
    if (!(x1 >= x0)) { x0 = y0 = 0; x1 = y1 = 1; }
    const w = Math.max(x1 - x0, 1e-9), h = Math.max(y1 - y0, 1e-9);
    const cells = Math.max(1, Math.ceil(n / perCell));
    const side = Math.sqrt(cells * w / h); // keep cells roughly square
    this.cols = Math.max(1, Math.min(4096, Math.round(side)));
    this.rows = Math.max(1, Math.min(4096, Math.round(cells / this.cols)));
    this.x0 = x0; this.y0 = y0;
    this.cw = w / this.cols; this.ch = h / this.rows;
    const nc = this.cols * this.rows;
    const start = new Uint32Array(nc + 1);
    const cellOf = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const c = this._cell(xy[2 * i], xy[2 * i + 1]);
      cellOf[i] = c;
      if (c >= 0) start[c + 1]++;
    }
    for (let c = 0; c < nc; c++) start[c + 1] += start[c];
    const items = new Uint32Array(start[nc]);
    const fill = start.slice(0, nc);
    for (let i = 0; i < n; i++) if (cellOf[i] >= 0) items[fill[cellOf[i]]++] = i;
    this.start = start;
    this.items = items;
  }

  _col(x) { return Math.min(this.cols - 1, Math.max(0, Math.floor((x - this.x0) / this.cw))); }
  _row(y) { return Math.min(this.rows - 1, Math.max(0, Math.floor((y - this.y0) / this.ch))); }
  _cell(x, y) {
    if (!(Number.isFinite(x) && Number.isFinite(y))) return -1;
    return this._row(y) * this.cols + this._col(x);
  }

  /** Calls fn(i) for every point in cells overlapping [xa,xb]x[ya,yb] (a superset). */
  _visit(xa, ya, xb, yb, fn) {
    if (xb < this.x0 || yb < this.y0) return;
    if (xa > this.x0 + this.cw * this.cols || ya > this.y0 + this.ch * this.rows) return;
    const c0 = this._col(xa), c1 = this._col(xb), r0 = this._row(ya), r1 = this._row(yb);
    for (let r = r0; r <= r1; r++) {
      for (let c = c0; c <= c1; c++) {
        const cell = r * this.cols + c;
        for (let k = this.start[cell]; k < this.start[cell + 1]; k++) fn(this.items[k]);
      }
    }
  }

  /**
   * The point nearest to (x, y) within radius r (data units), or -1.
   * Ties go to the highest index (drawn last, so on top).
   */
  nearest(x, y, r) {
    let best = -1, bestD = r * r;
    const xy = this.xy;
    this._visit(x - r, y - r, x + r, y + r, (i) => {
      const dx = xy[2 * i] - x, dy = xy[2 * i + 1] - y;
      const d = dx * dx + dy * dy;
      if (d < bestD || (d === bestD && i > best)) { bestD = d; best = i; }
    });
    return best;
  }

  /** Indices (ascending) of points inside the box spanned by two corners. */
  inBox(xa, ya, xb, yb) {
    const lx = Math.min(xa, xb), hx = Math.max(xa, xb), ly = Math.min(ya, yb), hy = Math.max(ya, yb);
    const out = [];
    const xy = this.xy;
    this._visit(lx, ly, hx, hy, (i) => {
      const x = xy[2 * i], y = xy[2 * i + 1];
      if (x >= lx && x <= hx && y >= ly && y <= hy) out.push(i);
    });
    return out.sort((a, b) => a - b);
  }

  /** Indices (ascending) of points inside a polygon [[x,y],...] (even-odd rule). */
  inPolygon(poly) {
    if (poly.length < 3) return [];
    let lx = Infinity, ly = Infinity, hx = -Infinity, hy = -Infinity;
    for (const [x, y] of poly) {
      lx = Math.min(lx, x); hx = Math.max(hx, x); ly = Math.min(ly, y); hy = Math.max(hy, y);
    }
    const out = [];
    const xy = this.xy;
    this._visit(lx, ly, hx, hy, (i) => {
      if (pointInPolygon(xy[2 * i], xy[2 * i + 1], poly)) out.push(i);
    });
    return out.sort((a, b) => a - b);
  }
}

/** Even-odd ray casting test of (x, y) against polygon [[x,y],...]. */
export function pointInPolygon(x, y, poly) {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i], [xj, yj] = poly[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}
