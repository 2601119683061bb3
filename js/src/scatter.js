// anywidget front-end of nbviz.views.scatter_widget.ScatterWidget: a WebGL scatter of up to
// ~100k points with pan/zoom, colour legend, hover thumbnails (no kernel round trip),
// box/lasso selection synced to the `selected` trait, and animated position updates.
import { asFloat32, asInt32, asUint8 } from "./lib/buffers.js";
import { GridIndex } from "./lib/grid.js";
import { fitView, dataToScreen, screenToData, zoomAt, panBy } from "./lib/transform.js";
import { categoricalPalette, fillColors, legendEntries } from "./lib/colors.js";
import { thumbnailInto } from "./lib/atlas.js";
import { tooltipText } from "./lib/tooltip.js";
import { PointRenderer, ease, interpolate } from "./lib/renderer.js";

const CSS = `
.nbviz-scatter{font:12px sans-serif;color:#222;user-select:none}
.nbviz-scatter .nbviz-bar{display:flex;gap:4px;align-items:center;margin-bottom:4px;flex-wrap:wrap}
.nbviz-scatter .nbviz-bar button{padding:2px 8px;border:1px solid #bbb;background:#f6f6f6;border-radius:3px;cursor:pointer}
.nbviz-scatter .nbviz-bar button.on{background:#1565c0;color:#fff;border-color:#1565c0}
.nbviz-scatter .nbviz-plot{position:relative;border:1px solid #ddd;overflow:hidden;background:#fff}
.nbviz-scatter canvas.nbviz-gl{position:absolute;left:0;top:0;width:100%;height:100%}
.nbviz-scatter svg{position:absolute;left:0;top:0;width:100%;height:100%;pointer-events:none}
.nbviz-scatter .nbviz-ring{position:absolute;border:2px solid #000;border-radius:50%;pointer-events:none;display:none}
.nbviz-scatter .nbviz-tooltip{position:absolute;display:none;pointer-events:none;background:rgba(255,255,255,.96);border:1px solid #999;border-radius:4px;padding:4px;box-shadow:0 1px 4px rgba(0,0,0,.25);z-index:5}
.nbviz-scatter .nbviz-thumb{display:block;image-rendering:pixelated;margin-bottom:3px}
.nbviz-scatter .nbviz-legend{position:absolute;right:6px;top:6px;background:rgba(255,255,255,.85);padding:4px 6px;border:1px solid #ddd;border-radius:3px;max-height:80%;overflow:auto;pointer-events:none}
.nbviz-scatter .nbviz-legend .sw{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:4px;vertical-align:middle}
.nbviz-scatter .nbviz-msg{position:absolute;left:8px;bottom:6px;color:#b71c1c}
`;

function h(tag, cls, parent) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (parent) parent.appendChild(e);
  return e;
}

function render({ model, el }) {
  if (!document.getElementById("nbviz-scatter-css")) {
    const style = h("style", null, document.head);
    style.id = "nbviz-scatter-css";
    style.textContent = CSS;
  }
  const root = h("div", "nbviz-scatter", el);
  const bar = h("div", "nbviz-bar", root);
  const tools = {};
  for (const [key, label, title] of [["pan", "Pan", "drag to pan, wheel to zoom (shift-drag: box select)"],
    ["box", "Box", "drag a box to select"], ["lasso", "Lasso", "draw around points to select"]]) {
    const b = h("button", "nbviz-tool", bar);
    b.textContent = label; b.title = title; b.dataset.tool = key;
    b.addEventListener("click", () => setTool(key));
    tools[key] = b;
  }
  const resetBtn = h("button", "nbviz-reset", bar); resetBtn.textContent = "Reset view";
  const clearBtn = h("button", "nbviz-clear", bar); clearBtn.textContent = "Clear selection";
  const count = h("span", "nbviz-count", bar);
  const plot = h("div", "nbviz-plot", root);
  const canvas = h("canvas", "nbviz-gl", plot);
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  plot.appendChild(svg);
  const shape = document.createElementNS("http://www.w3.org/2000/svg", "path");
  shape.setAttribute("fill", "rgba(21,101,192,0.12)");
  shape.setAttribute("stroke", "#1565c0");
  shape.setAttribute("stroke-dasharray", "4 3");
  svg.appendChild(shape);
  const ring = h("div", "nbviz-ring", plot);
  const legend = h("div", "nbviz-legend", plot);
  const msg = h("div", "nbviz-msg", plot);
  const tip = h("div", "nbviz-tooltip", plot);
  const thumb = h("canvas", "nbviz-thumb", tip);
  thumb.setAttribute("role", "img");
  const tipText = h("div", "nbviz-tiptext", tip);

  let renderer = null;
  try { renderer = new PointRenderer(canvas); } catch (err) { msg.textContent = String(err.message || err); }

  const st = {
    tool: "pan", jump: model.get("jump_count"), width: 1, height: 1, dpr: window.devicePixelRatio || 1,
    from: new Float32Array(0), to: new Float32Array(0), n: 0, grid: null,
    anim: null, view: { cx: 0, cy: 0, scale: 1 }, viewFrom: null, viewTo: null, userView: false,
    rgba: new Uint8Array(0), mask: new Uint8Array(0), hover: -1, drag: null, frame: 0,
    info: null, atlas: new Uint8Array(0), thumbShape: [0, 0, 0], thumbImage: null,
  };

  function setTool(key) {
    st.tool = key;
    for (const [k, b] of Object.entries(tools)) b.classList.toggle("on", k === key);
    plot.style.cursor = key === "pan" ? "grab" : "crosshair";
  }
  setTool("pan");

  // ---- drawing ------------------------------------------------------------------------
  function t() {
    if (!st.anim) return 1;
    const x = (performance.now() - st.anim.start) / st.anim.duration;
    return x >= 1 ? 1 : ease(Math.max(0, x));
  }
  function requestDraw() {
    if (st.frame) return;
    st.frame = requestAnimationFrame(draw);
  }
  function draw() {
    st.frame = 0;
    const k = t();
    if (st.viewFrom && st.viewTo && !st.userView) {
      const a = st.viewFrom, b = st.viewTo;
      st.view = { cx: a.cx + (b.cx - a.cx) * k, cy: a.cy + (b.cy - a.cy) * k,
        scale: a.scale * Math.pow(b.scale / a.scale, k) };
    }
    if (renderer) renderer.draw(st.view, k, model.get("point_size"), st.dpr);
    if (k < 1) requestDraw();
    else st.anim = null;
    placeRing();
  }
  function resize() {
    const r = plot.getBoundingClientRect();
    st.width = Math.max(1, r.width); st.height = Math.max(1, r.height);
    st.dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(st.width * st.dpr);
    canvas.height = Math.round(st.height * st.dpr);
    if (!st.userView) { st.view = fitView(st.to, st.width, st.height); st.viewTo = st.view; }
    requestDraw();
  }

  // ---- data from the model -------------------------------------------------------------
  function onPositions() {
    const next = asFloat32(model.get("positions")).slice();
    const n = next.length >> 1;
    const jump = model.get("jump_count");
    const animate = n === st.n && n > 0 && model.get("transition_ms") > 0 && jump === st.jump;
    st.jump = jump;
    const current = st.anim ? interpolate(st.from, st.to, t()) : st.to;
    st.from = animate ? current : next;
    st.to = next;
    st.n = n;
    st.grid = new GridIndex(next);
    if (renderer) renderer.setPositions(st.from, st.to);
    st.viewFrom = st.view;
    st.viewTo = fitView(next, st.width, st.height);
    if (!animate) { st.view = st.viewTo; st.viewFrom = st.viewTo; }
    st.anim = animate ? { start: performance.now(), duration: model.get("transition_ms") } : null;
    if (st.rgba.length !== 4 * n) { onSelected(); } // also recolours
    hideTip();
    requestDraw();
  }
  function onColors() {
    const mode = model.get("color_mode");
    const names = model.get("color_names") || [];
    const palette = categoricalPalette(names.length, model.get("palette"));
    if (st.rgba.length !== 4 * st.n) st.rgba = new Uint8Array(4 * st.n);
    const values = asFloat32(model.get("color_values"));
    const range = fillColors(st.rgba, st.n, { mode, categories: asUint8(model.get("color_categories")),
      values, palette, selectedMask: st.mask });
    if (renderer) renderer.setColors(st.rgba);
    drawLegend(legendEntries(mode, names, palette, [range.lo, range.hi]));
    requestDraw();
  }
  function drawLegend(entries) {
    legend.replaceChildren();
    const title = model.get("color_title");
    if (title) { const t0 = h("div", "nbviz-legend-title", legend); t0.textContent = title; t0.style.fontWeight = "bold"; }
    if (entries.kind === "range") {
      const bar0 = h("div", null, legend);
      bar0.style.cssText = `width:110px;height:10px;background:linear-gradient(to right,${entries.stops.map((c) => `rgb(${c})`).join(",")})`;
      const lab = h("div", null, legend);
      lab.textContent = `${entries.lo.toPrecision(3)} … ${entries.hi.toPrecision(3)}`;
    } else {
      for (const item of entries.items) {
        const row = h("div", "nbviz-legend-item", legend);
        const sw = h("span", "sw", row); sw.style.background = item.color;
        row.appendChild(document.createTextNode(item.label));
      }
    }
    legend.style.display = legend.childNodes.length ? "block" : "none";
  }
  function onSelected() {
    st.mask = new Uint8Array(st.n);
    let k = 0;
    for (const i of model.get("selected") || []) if (i >= 0 && i < st.n) { st.mask[i] = 1; k++; }
    count.textContent = k ? `${k} selected` : "";
    count.dataset.count = String(k);
    onColors();
  }
  function onInfo() {
    st.info = {
      labels: asInt32(model.get("labels")), predictions: asInt32(model.get("predictions")),
      confidences: asFloat32(model.get("confidences")), losses: asFloat32(model.get("losses")),
      names: model.get("class_names") || [],
    };
  }
  function onThumbs() {
    st.atlas = asUint8(model.get("thumbnails"));
    st.thumbShape = model.get("thumb_shape") || [0, 0, 0];
    const [th, tw] = st.thumbShape;
    if (th > 0 && tw > 0) {
      thumb.width = tw; thumb.height = th;
      const zoom = Math.max(1, Math.round(72 / Math.max(th, tw)));
      thumb.style.width = `${tw * zoom}px`; thumb.style.height = `${th * zoom}px`;
      st.thumbImage = thumb.getContext("2d").createImageData(tw, th);
    } else st.thumbImage = null;
  }
  function onHeight() { plot.style.height = `${model.get("height")}px`; resize(); }

  // ---- hover ------------------------------------------------------------------------------
  function local(ev) {
    const r = plot.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  }
  function hitTest(sx, sy) {
    if (!st.grid) return -1;
    const [x, y] = screenToData(st.view, sx, sy, st.width, st.height);
    const radius = Math.max(5, model.get("point_size")) / st.view.scale;
    return st.grid.nearest(x, y, radius);
  }
  function placeRing() {
    if (st.hover < 0 || st.hover >= st.n) { ring.style.display = "none"; return; }
    const [sx, sy] = dataToScreen(st.view, st.to[2 * st.hover], st.to[2 * st.hover + 1], st.width, st.height);
    const r = Math.max(5, model.get("point_size"));
    ring.style.cssText = `display:block;left:${sx - r}px;top:${sy - r}px;width:${2 * r - 4}px;height:${2 * r - 4}px`;
  }
  function hideTip() { st.hover = -1; tip.style.display = "none"; ring.style.display = "none"; }
  function showTip(i, sx, sy) {
    if (i !== st.hover) {
      st.hover = i;
      const hasThumb = st.thumbImage && thumbnailInto(st.thumbImage, st.atlas, st.thumbShape, i);
      if (hasThumb) thumb.getContext("2d").putImageData(st.thumbImage, 0, 0);
      thumb.style.display = hasThumb ? "block" : "none";
      tipText.textContent = "";
      for (const line of tooltipText(i, st.info)) h("div", null, tipText).textContent = line;
      tip.dataset.index = String(i);
      tip.style.display = "block";
      placeRing();
    }
    const w = tip.offsetWidth, hh = tip.offsetHeight;
    const left = sx + 14 + w > st.width ? sx - 14 - w : sx + 14;
    const top = Math.min(Math.max(0, sy - hh / 2), Math.max(0, st.height - hh));
    tip.style.left = `${Math.max(0, left)}px`; tip.style.top = `${top}px`;
  }

  // ---- pointer interaction -------------------------------------------------------------------
  function onDown(ev) {
    if (ev.button !== 0) return;
    const [sx, sy] = local(ev);
    const select = ev.shiftKey ? "box" : st.tool;
    st.drag = { kind: select, x0: sx, y0: sy, x: sx, y: sy, moved: false, path: [[sx, sy]], view: st.view };
    hideTip();
    ev.preventDefault();
  }
  function onMove(ev) {
    const [sx, sy] = local(ev);
    const d = st.drag;
    if (!d) {
      const i = hitTest(sx, sy);
      if (i >= 0) showTip(i, sx, sy); else if (st.hover >= 0) hideTip();
      return;
    }
    d.moved = d.moved || Math.abs(sx - d.x0) + Math.abs(sy - d.y0) > 3;
    d.x = sx; d.y = sy;
    if (d.kind === "pan") {
      st.userView = true;
      st.view = panBy(d.view, sx - d.x0, sy - d.y0);
      requestDraw();
    } else if (d.kind === "box") {
      shape.setAttribute("d", `M${d.x0},${d.y0}H${sx}V${sy}H${d.x0}Z`);
    } else {
      d.path.push([sx, sy]);
      shape.setAttribute("d", `M${d.path.map((p) => p.join(",")).join("L")}Z`);
    }
  }
  function commitSelection(indices) {
    model.set("selected", indices);
    model.save_changes();
  }
  function onUp(ev) {
    const d = st.drag;
    if (!d) return;
    st.drag = null;
    shape.setAttribute("d", "");
    if (!d.moved) {
      const i = hitTest(d.x0, d.y0);
      if (i >= 0) model.send({ type: "click", index: i });
      return;
    }
    if (!st.grid) return;
    const toData = ([x, y]) => screenToData(st.view, x, y, st.width, st.height);
    if (d.kind === "box") {
      const [xa, ya] = toData([d.x0, d.y0]), [xb, yb] = toData([d.x, d.y]);
      commitSelection(st.grid.inBox(xa, ya, xb, yb));
    } else if (d.kind === "lasso") {
      commitSelection(st.grid.inPolygon(d.path.map(toData)));
    }
    void ev;
  }
  function onWheel(ev) {
    ev.preventDefault();
    const [sx, sy] = local(ev);
    st.userView = true;
    st.view = zoomAt(st.view, Math.exp(-ev.deltaY * 0.0015), sx, sy, st.width, st.height);
    hideTip();
    requestDraw();
  }
  function resetView() {
    st.userView = false;
    st.view = st.viewTo = st.viewFrom = fitView(st.to, st.width, st.height);
    requestDraw();
  }
  plot.addEventListener("mousedown", onDown);
  plot.addEventListener("mousemove", onMove);
  window.addEventListener("mouseup", onUp);
  plot.addEventListener("mouseleave", () => { if (!st.drag) hideTip(); });
  plot.addEventListener("wheel", onWheel, { passive: false });
  plot.addEventListener("dblclick", resetView);
  resetBtn.addEventListener("click", resetView);
  clearBtn.addEventListener("click", () => commitSelection([]));

  const handlers = [
    ["change:positions", onPositions], ["change:selected", onSelected],
    ["change:color_mode change:color_categories change:color_values change:color_names change:palette change:color_title", onColors],
    ["change:labels change:predictions change:confidences change:losses change:class_names", onInfo],
    ["change:thumbnails change:thumb_shape", onThumbs], ["change:height", onHeight],
    ["change:point_size", requestDraw],
  ];
  for (const [ev, fn] of handlers) model.on(ev, fn);
  const observer = new ResizeObserver(resize);
  observer.observe(plot);
  onInfo(); onThumbs(); onHeight(); onPositions();
  // for benchmarks and tests: where point i is on screen (CSS px relative to the plot)
  root.nbvizScatter = {
    screenOf: (i) => dataToScreen(st.view, st.to[2 * i], st.to[2 * i + 1], st.width, st.height),
    state: st,
    drawNow: () => { // one full frame, waited for (reading a pixel forces the GPU to finish)
      draw();
      if (renderer) renderer.gl.readPixels(0, 0, 1, 1, renderer.gl.RGBA, renderer.gl.UNSIGNED_BYTE, new Uint8Array(4));
    },
  };

  return () => {
    for (const [ev, fn] of handlers) model.off(ev, fn);
    observer.disconnect();
    window.removeEventListener("mouseup", onUp);
    if (st.frame) cancelAnimationFrame(st.frame);
    if (renderer) renderer.destroy();
  };
}

export default { render };
