"""Hover latency of the embedding scatter: mouse move -> thumbnail visible, 100k points.

Serves a static page on 127.0.0.1 that loads the built bundle (nbviz/static/scatter.js) with
a minimal fake anywidget model, then drives headless Debian chromium via Playwright.

Two measurements over many points:
  * synthetic: performance.now() before dispatching a mousemove on the plot, until the
    first animation frame after the tooltip shows that point's thumbnail (just before paint);
  * real input: Playwright's page.mouse.move (through the browser's input pipeline), from
    the event's timeStamp to that frame.
Baselines in the same page: the 50 ms budget, and a brute-force nearest-point scan over
all points (what hit-testing costs without the grid index).

With --disable-gpu chromium renders WebGL in software (SwiftShader), so drawing is slower
than on a desktop GPU; hover itself does not redraw the WebGL canvas.

Run: .venv/bin/python bench/hover_latency.py [--points 100000] [--moves 300]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import statistics
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
BUDGET_MS = 50.0
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>nbviz hover bench</title></head>
<body style="margin:0"><div id="host" style="width:900px"></div>
<script type="module">
import widget from "/nbviz/static/scatter.js";
const N = %(n)d, H = 16, W = 16, K = 10;
let s = 12345;
const rnd = () => ((s = (s * 1103515245 + 12345) %% 2147483648) / 2147483648);
const gauss = () => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
const xy = new Float32Array(2 * N), labels = new Int32Array(N), preds = new Int32Array(N);
const conf = new Float32Array(N), cats = new Uint8Array(N), atlas = new Uint8Array(N * H * W);
for (let i = 0; i < N; i++) {
  const k = i %% K;
  xy[2 * i] = 10 * Math.cos(k) + gauss() * 2; xy[2 * i + 1] = 10 * Math.sin(k) + gauss() * 2;
  labels[i] = k; preds[i] = rnd() < 0.9 ? k : (k + 1) %% K; conf[i] = 0.5 + rnd() / 2; cats[i] = k;
  for (let p = 0; p < H * W; p++) atlas[i * H * W + p] = (p * 7 + i) & 255;
}
const dv = (a) => new DataView(a.buffer);
const state = {
  positions: dv(xy), color_mode: "category", color_categories: dv(cats), color_values: new DataView(new ArrayBuffer(0)),
  color_names: [...Array(K).keys()].map(String), color_title: "label", palette: [],
  labels: dv(labels), predictions: dv(preds), confidences: dv(conf), losses: new DataView(new ArrayBuffer(0)),
  class_names: [...Array(K).keys()].map(String), thumbnails: dv(atlas), thumb_shape: [H, W, 1],
  selected: [], point_size: 3, transition_ms: 0, height: 600, jump_count: 0,
};
const listeners = {};
const model = {
  get: (k) => state[k], set: (k, v) => { state[k] = v; (listeners["change:" + k] || []).forEach((f) => f()); },
  on: (names, f) => names.split(" ").forEach((n) => (listeners[n] = listeners[n] || []).push(f)),
  off: () => {}, save_changes: () => {}, send: () => {},
};
widget.render({ model, el: document.getElementById("host") });
window.bench = { xy, N };
window.brute = (x, y) => { let b = -1, bd = Infinity; for (let i = 0; i < N; i++) {
  const dx = xy[2*i] - x, dy = xy[2*i+1] - y, d = dx*dx + dy*dy; if (d < bd) { bd = d; b = i; } } return b; };
requestAnimationFrame(() => requestAnimationFrame(() => { window.ready = true; }));
</script></body></html>"""

SYNTHETIC = """async ([moves]) => {
  const root = document.querySelector('.nbviz-scatter');
  const plot = root.querySelector('.nbviz-plot'), tip = root.querySelector('.nbviz-tooltip');
  const thumb = tip.querySelector('canvas.nbviz-thumb');
  const rect = plot.getBoundingClientRect();
  const frame = () => new Promise((r) => requestAnimationFrame(r));
  const out = [], grid = [], brute = [];
  let shown = 0;
  const st = root.nbvizScatter.state;
  for (let m = 0; m < moves; m++) {
    const i = Math.floor((m * 7919.123) %% window.bench.N);  // spread over all points
    const [sx, sy] = root.nbvizScatter.screenOf(i);
    await frame();
    const t0 = performance.now();
    plot.dispatchEvent(new MouseEvent('mousemove', {clientX: rect.left + sx, clientY: rect.top + sy, bubbles: true}));
    await frame();
    const t1 = performance.now();
    if (tip.style.display === 'block' && thumb.style.display === 'block') { shown++; out.push(t1 - t0); }
  }
  // hit-testing alone (batches, for timer resolution): grid index vs a brute-force scan
  const xy = window.bench.xy;
  for (let rep = 0; rep < 5; rep++) {
    let a = performance.now();
    for (let q = 0; q < 1000; q++) st.grid.nearest(xy[2 * q * 7], xy[2 * q * 7 + 1], 0.05);
    grid.push((performance.now() - a) / 1000);
    a = performance.now();
    for (let q = 0; q < 10; q++) window.brute(xy[2 * q * 7], xy[2 * q * 7 + 1]);
    brute.push((performance.now() - a) / 10);
  }
  // one full WebGL frame of all points (what pan/zoom costs per frame)
  const draws = [];
  for (let k = 0; k < 20; k++) { const a = performance.now(); root.nbvizScatter.drawNow(); draws.push(performance.now() - a); }
  return {latencies: out, shown, grid, brute, draws};
}"""

REAL_SETUP = """() => {
  const root = document.querySelector('.nbviz-scatter');
  const plot = root.querySelector('.nbviz-plot'), tip = root.querySelector('.nbviz-tooltip');
  window.realLat = [];
  plot.addEventListener('mousemove', (ev) => {
    const stamp = ev.timeStamp;
    requestAnimationFrame(() => {
      if (tip.style.display === 'block') window.realLat.push(performance.now() - stamp);
    });
  });
  const r = plot.getBoundingClientRect();
  return [r.left, r.top];
}"""


def serve() -> tuple[http.server.ThreadingHTTPServer, int]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(ROOT))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def summary(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--moves", type=int, default=300)
    opts = parser.parse_args()
    page_path = ROOT / "build" / "hover_bench.html"
    page_path.parent.mkdir(exist_ok=True)
    page_path.write_text(PAGE % {"n": opts.points})
    server, port = serve()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1000, "height": 760})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"http://127.0.0.1:{port}/build/hover_bench.html")
            page.wait_for_function("window.ready === true", timeout=60_000)
            renderer = page.evaluate("""() => { const gl = document.createElement('canvas').getContext('webgl');
                const ext = gl && gl.getExtension('WEBGL_debug_renderer_info');
                return gl ? (ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : 'webgl') : 'no webgl'; }""")
            msg = page.evaluate("document.querySelector('.nbviz-msg').textContent")
            syn = page.evaluate(SYNTHETIC.replace("%%", "%"), [opts.moves])
            left, top = page.evaluate(REAL_SETUP)
            for m in range(opts.moves):
                i = int((m * 7919.123) % opts.points)
                sx, sy = page.evaluate(f"document.querySelector('.nbviz-scatter').nbvizScatter.screenOf({i})")
                page.mouse.move(left + sx, top + sy)
            page.wait_for_timeout(200)
            real = page.evaluate("window.realLat")
            browser.close()
    finally:
        server.shutdown()
    if errors:
        raise SystemExit(f"page errors: {errors}")
    print(f"chromium {CHROMIUM} headless, --disable-gpu; WebGL renderer: {renderer}"
          f"{'; renderer message: ' + msg if msg else ''}")
    print(f"{opts.points} points, 16x16 thumbnails, {opts.moves} hover targets")
    med, p95 = summary(syn["latencies"])
    print(f"synthetic mousemove -> thumbnail frame: median {med:.2f} ms, p95 {p95:.2f} ms "
          f"(shown {syn['shown']}/{opts.moves}); ratio to the {BUDGET_MS:.0f} ms budget: "
          f"median {med / BUDGET_MS:.3f}, p95 {p95 / BUDGET_MS:.3f}")
    if real:
        med, p95 = summary(real)
        print(f"real input (page.mouse.move) event -> thumbnail frame: median {med:.2f} ms, p95 {p95:.2f} ms "
              f"({len(real)} shown); ratio to budget: median {med / BUDGET_MS:.3f}, p95 {p95 / BUDGET_MS:.3f}")
    med, p95 = summary(syn["draws"])
    print(f"full redraw of {opts.points} points (pan/zoom frame, software WebGL): median {med:.1f} ms, "
          f"p95 {p95:.1f} ms ({1000 / med:.0f} frames/s)")
    g, b = statistics.median(syn["grid"]), statistics.median(syn["brute"])
    print(f"hit-test alone: grid index median {g * 1000:.1f} us vs brute-force scan {b * 1000:.1f} us "
          f"(grid is {b / max(g, 1e-6):.0f}x faster)")


if __name__ == "__main__":
    main()
