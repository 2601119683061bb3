// The text of the hover tooltip for one point.

/** "label 3 · pred 5 (87%)" style lines for point i; names map class ids to names. */
export function tooltipText(i, { labels, predictions, confidences, names, losses }) {
  const name = (k) => (k >= 0 && k < names.length ? names[k] : String(k));
  const lines = [`#${i}`];
  if (i < labels.length && labels[i] >= 0) lines.push(`label: ${name(labels[i])}`);
  if (i < predictions.length && predictions[i] >= 0) {
    let p = `prediction: ${name(predictions[i])}`;
    if (i < confidences.length && Number.isFinite(confidences[i])) p += ` (${(100 * confidences[i]).toFixed(1)}%)`;
    lines.push(p);
    if (i < labels.length && labels[i] >= 0) lines.push(predictions[i] === labels[i] ? "correct" : "wrong");
  }
  if (losses && i < losses.length && Number.isFinite(losses[i])) lines.push(`loss: ${losses[i].toFixed(3)}`);
  return lines;
}
