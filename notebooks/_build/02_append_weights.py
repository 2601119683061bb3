"""Append the 'training with the weight views open' section to notebook 02 (idempotent).

Adds cells tagged ``nbviz-weights-section`` at the end of notebooks/02_inside_the_model.ipynb,
replacing earlier ones with that tag; every other cell is left as it is.
Run: .venv/bin/python notebooks/_build/02_append_weights.py
"""

from __future__ import annotations

from pathlib import Path

import nbformat

TAG = "nbviz-weights-section"
PATH = Path(__file__).resolve().parent.parent / "02_inside_the_model.ipynb"

CELLS = [
    ("markdown", """## Watching weights and gradients while the model learns

Weights and gradients are recorded from the training thread a few times a second (well under
1% of training time), so open these views *before* training. The filter grid and histograms
update live; the heat map is an ipympl figure redrawn only when you pick a layer or click
**Redraw**, so you can zoom, pan and draw on it. Move the **snapshot** slider to look back at
earlier steps."""),
    ("code", """torch.manual_seed(0)
fresh = nbviz.models.SmallCNN()
live = nbviz.TrainingSession(fresh, train_loader, val_loader, epochs=2, lr=0.05)
live_weights = nbviz.Weights(live)
live_grads = nbviz.GradientFlow(live)
live_acts = nbviz.ActivationStats(live)
live_weights.stats.every = 4   # this run is short: keep every 4th step (default: throttled by time)
live.start()
live_weights"""),
    ("code", """live_grads"""),
    ("code", """live_acts"""),
    ("code", """live.wait()
live_weights.layer.value = "classifier.1"          # the heat map redraws for the new layer
stats = live_weights.stats
print(f"{stats.samples_taken} snapshots recorded, {len(stats)} kept, "
      f"{1000 * stats.time_spent / max(stats.samples_taken, 1):.1f} ms each")"""),
    ("markdown", """The heat map is a plain matplotlib figure: extend it with `view.ax`, then redraw it."""),
    ("code", """live_weights.ax.axhline(31.5, color="k", lw=0.8)   # e.g. mark a unit of interest
live_weights.figure.canvas.draw_idle()"""),
    ("markdown", """## A model whose gradients vanish

Twelve sigmoid layers in a row: each sigmoid passes back at most a quarter of the gradient, so
the first layers get almost none. The gradient view flags them and says what to try."""),
    ("code", """layers = [torch.nn.Flatten(), torch.nn.Linear(28 * 28, 32), torch.nn.Sigmoid()]
for _ in range(11):
    layers += [torch.nn.Linear(32, 32), torch.nn.Sigmoid()]
deep = torch.nn.Sequential(*layers, torch.nn.Linear(32, 10))
deep_session = nbviz.TrainingSession(deep, train_loader, epochs=1, lr=0.1)
deep_grads = nbviz.GradientFlow(deep_session)
deep_grads.stats.every = 2                     # sample every 2nd step (deterministic)
deep_session.start()
deep_session.wait()
from nbviz.probes.grad_health import diagnose
for flag in diagnose(deep_grads.stats.snapshots())[:3]:
    print(flag.kind, flag.name)
deep_grads"""),
]


def main() -> None:
    nb = nbformat.read(PATH, as_version=4)
    nb.cells = [c for c in nb.cells if TAG not in c.get("metadata", {}).get("tags", [])]
    for kind, source in CELLS:
        make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        nb.cells.append(make(source, metadata={"tags": [TAG]}))
    nbformat.validate(nb)
    nbformat.write(nb, PATH)


if __name__ == "__main__":
    main()
