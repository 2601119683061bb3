// anywidget front end of nbviz.views.image_grid.ImageGrid: uint8 tiles drawn onto one canvas.
// Python sends all tiles as one binary buffer (`data`) plus shape traits; a click on a tile
// sends {type: "click", index} back, resting the pointer on one (debounced) sends
// {type: "hover", index} (-1 on leaving); `selected` is outlined.
import { wirePointer } from "./lib/pointer.js";
import { lut } from "./lib/tile_colormap.js";
import { asBytes, composeRGBA, layout, tileAt, tileRect } from "./lib/tile_grid.js";

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "nbviz-image-grid";
  root.style.cssText = "display:inline-block;max-width:100%;overflow:auto;";
  const canvas = document.createElement("canvas");
  canvas.style.cssText = "display:block;cursor:pointer;image-rendering:pixelated;";
  const caption = document.createElement("div");
  caption.style.cssText = "font:12px sans-serif;color:#555;min-height:1.2em;";
  root.append(canvas, caption);
  el.appendChild(root);

  const offscreen = document.createElement("canvas");
  let lay = layout({ count: 0, height: 0, width: 0 });
  let frame = 0;

  function shape() {
    return {
      count: model.get("count"), height: model.get("tile_height"),
      width: model.get("tile_width"), channels: model.get("channels"),
    };
  }

  function draw() {
    frame = 0;
    const s = shape();
    lay = layout({ ...s, columns: model.get("columns"), tileSize: model.get("tile_size"), gap: 2 });
    canvas.width = lay.canvasW;
    canvas.height = lay.canvasH;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#ddd";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    if (lay.count === 0) return;
    let img;
    try {
      img = composeRGBA(asBytes(model.get("data")), s, lay.cols, lut(model.get("colormap")));
    } catch (err) {
      caption.textContent = String(err.message || err);
      return;
    }
    offscreen.width = img.width;
    offscreen.height = img.height;
    offscreen.getContext("2d").putImageData(new ImageData(img.data, img.width, img.height), 0, 0);
    ctx.imageSmoothingEnabled = false;
    for (let i = 0; i < lay.count; i++) {
      const r = tileRect(lay, i);
      const sx = (i % lay.cols) * s.width;
      const sy = Math.floor(i / lay.cols) * s.height;
      ctx.drawImage(offscreen, sx, sy, s.width, s.height, r.x, r.y, r.w, r.h);
    }
    const sel = model.get("selected");
    if (sel >= 0 && sel < lay.count) {
      const r = tileRect(lay, sel);
      ctx.strokeStyle = "#ff1744";
      ctx.lineWidth = 2;
      ctx.strokeRect(r.x - 1, r.y - 1, r.w + 2, r.h + 2);
    }
    caption.textContent = model.get("caption");
  }

  function schedule() {
    if (!frame) frame = requestAnimationFrame(draw);
  }

  function label(i) {
    const labels = model.get("labels") || [];
    return i < labels.length ? labels[i] : `#${i}`;
  }

  const unwire = wirePointer(canvas, model, (x, y) => tileAt(lay, x, y), (index) => {
    canvas.title = index >= 0 ? label(index) : "";
  });

  const traits = ["data", "count", "tile_height", "tile_width", "channels", "colormap",
    "columns", "tile_size", "selected", "caption", "labels"];
  for (const t of traits) model.on(`change:${t}`, schedule);
  draw();
  return () => {
    for (const t of traits) model.off(`change:${t}`, schedule);
    unwire();
    if (frame) cancelAnimationFrame(frame);
  };
}

export default { render };
