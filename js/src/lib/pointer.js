// Pointer input on a canvas whose pixels may be shown scaled by CSS: the item under the
// pointer, clicks sent to Python, and hover reported once the pointer rests (hover.js).
import { hoverReporter } from "./hover.js";

/** Canvas pixel coordinates [x, y] of a mouse event. */
export function canvasPoint(canvas, event) {
  const box = canvas.getBoundingClientRect();
  const sx = box.width ? canvas.width / box.width : 1;
  const sy = box.height ? canvas.height / box.height : 1;
  return [(event.clientX - box.left) * sx, (event.clientY - box.top) * sy];
}

/**
 * Wire clicks and hover of `canvas` to `model`: a click on an item sends
 * {type: "click", index}; resting on one sends {type: "hover", index} after `delay` ms
 * (-1 once the pointer left every item).
 * @param {(x:number, y:number) => number} hitTest  the item at canvas pixel (x, y), or -1
 * @param {(index:number) => void} onMove  called on every move with the item under the pointer
 * @returns {() => void} removes the listeners and any pending hover report
 */
export function wirePointer(canvas, model, hitTest, onMove = () => {}, delay = 120) {
  const reporter = hoverReporter((index) => model.send({ type: "hover", index }), delay);
  const at = (event) => hitTest(...canvasPoint(canvas, event));
  const click = (event) => {
    const index = at(event);
    if (index >= 0) model.send({ type: "click", index });
  };
  const move = (event) => {
    const index = at(event);
    onMove(index);
    reporter.move(index);
  };
  const leave = () => {
    onMove(-1);
    reporter.move(-1);
  };
  canvas.addEventListener("click", click);
  canvas.addEventListener("mousemove", move);
  canvas.addEventListener("mouseleave", leave);
  return () => {
    canvas.removeEventListener("click", click);
    canvas.removeEventListener("mousemove", move);
    canvas.removeEventListener("mouseleave", leave);
    reporter.cancel();
  };
}
