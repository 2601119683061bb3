// anywidget front end of nbviz.widgets.network.NetworkCanvas: a TensorFlow-Playground-style
// network diagram. Nodes (inputs, hidden units, outputs) show their own map thumbnail (uint8
// tiles in one buffer, coloured with `colormap`); edges show the weights (float32 buffer):
// blue positive, orange negative, width by |w|. Hover (debounced) and click send
// {type: "hover" | "click", index} to Python, which shows the enlarged map.
import { asFloat32 } from "./lib/buffers.js";
import { edgeStyle, maxAbs, networkLayout, nodeAt, splitWeights } from "./lib/network_layout.js";
import { wirePointer } from "./lib/pointer.js";
import { lut } from "./lib/tile_colormap.js";
import { asBytes, composeRGBA } from "./lib/tile_grid.js";

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "nbviz-network";
  root.style.cssText = "display:inline-block;max-width:100%;overflow:auto;";
  const canvas = document.createElement("canvas");
  canvas.style.cssText = "display:block;cursor:pointer;";
  const caption = document.createElement("div");
  caption.className = "nbviz-network-caption";
  caption.style.cssText = "font:12px sans-serif;color:#555;min-height:1.2em;";
  root.append(canvas, caption);
  el.appendChild(root);

  const offscreen = document.createElement("canvas");
  let lay = networkLayout({ sizes: [] });
  let frame = 0;
  let hover = -1;

  function sizes() { return (model.get("sizes") || []).map(Number); }

  function drawEdges(ctx, sz) {
    const flat = asFloat32(model.get("weights"));
    if (flat.length === 0) return;
    const mats = splitWeights(flat, sz);
    const scale = maxAbs(flat);
    let first = 0;
    mats.forEach((m, l) => {
      const next = first + sz[l];
      for (let o = 0; o < m.rows; o++) {
        for (let i = 0; i < m.cols; i++) {
          const a = lay.nodes[first + i];
          const b = lay.nodes[next + o];
          const style = edgeStyle(m.values[o * m.cols + i], scale);
          const x0 = a.x + a.size, y0 = a.y + a.size / 2, x1 = b.x, y1 = b.y + b.size / 2;
          const mid = (x0 + x1) / 2;
          ctx.strokeStyle = style.color;
          ctx.lineWidth = (hover === first + i || hover === next + o) ? style.width + 1.5 : style.width;
          ctx.beginPath();
          ctx.moveTo(x0, y0);
          ctx.bezierCurveTo(mid, y0, mid, y1, x1, y1);
          ctx.stroke();
        }
      }
      first = next;
    });
  }

  function drawNodes(ctx, sz) {
    const count = model.get("count");
    const h = model.get("tile_height"), w = model.get("tile_width");
    const thumbs = count === lay.nodes.length && h > 0 && w > 0;
    if (thumbs) {
      const img = composeRGBA(asBytes(model.get("tiles")), { count, height: h, width: w, channels: 1 },
        count, lut(model.get("colormap")));
      offscreen.width = img.width;
      offscreen.height = img.height;
      offscreen.getContext("2d").putImageData(new ImageData(img.data, img.width, img.height), 0, 0);
    }
    ctx.imageSmoothingEnabled = false;
    const labels = model.get("labels") || [];
    const selected = model.get("selected");
    ctx.font = "11px sans-serif";
    ctx.textBaseline = "middle";
    lay.nodes.forEach((n, i) => {
      if (thumbs) ctx.drawImage(offscreen, i * w, 0, w, h, n.x, n.y, n.size, n.size);
      else { ctx.fillStyle = "#eee"; ctx.fillRect(n.x, n.y, n.size, n.size); }
      const mark = i === selected ? "#ff1744" : i === hover ? "#222" : "#999";
      ctx.strokeStyle = mark;
      ctx.lineWidth = i === selected || i === hover ? 2 : 1;
      ctx.strokeRect(n.x - 0.5, n.y - 0.5, n.size + 1, n.size + 1);
      ctx.fillStyle = "#333";
      if (n.layer === 0) { ctx.textAlign = "right"; ctx.fillText(labels[i] || "", n.x - 4, n.y + n.size / 2); }
      if (n.layer === sz.length - 1) { ctx.textAlign = "left"; ctx.fillText(labels[i] || "", n.x + n.size + 4, n.y + n.size / 2); }
    });
    ctx.textAlign = "center";
    ctx.fillStyle = "#555";
    const titles = model.get("column_titles") || [];
    lay.columns.forEach((x, l) => ctx.fillText(titles[l] || "", x + lay.size / 2, 10));
  }

  function draw() {
    frame = 0;
    const sz = sizes();
    lay = networkLayout({ sizes: sz, nodeSize: model.get("node_size") });
    canvas.width = Math.max(lay.width, 1);
    canvas.height = Math.max(lay.height, 1);
    caption.style.maxWidth = `${canvas.width}px`; // wrap under the diagram, never widen it
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    try {
      drawEdges(ctx, sz);
      drawNodes(ctx, sz);
      caption.textContent = model.get("caption");
    } catch (err) {
      caption.textContent = String(err.message || err);
    }
  }

  function schedule() {
    if (!frame) frame = requestAnimationFrame(draw);
  }

  const unwire = wirePointer(canvas, model, (x, y) => nodeAt(lay, x, y), (index) => {
    const labels = model.get("labels") || [];
    canvas.title = index >= 0 ? labels[index] || `#${index}` : "";
    if (index !== hover) { hover = index; schedule(); }
  });

  const traits = ["sizes", "labels", "column_titles", "weights", "tiles", "count", "tile_height", "tile_width",
    "colormap", "node_size", "selected", "caption"];
  for (const t of traits) model.on(`change:${t}`, schedule);
  draw();
  return () => {
    for (const t of traits) model.off(`change:${t}`, schedule);
    unwire();
    if (frame) cancelAnimationFrame(frame);
  };
}

export default { render };
