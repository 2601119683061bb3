"""Writes notebooks/04_embeddings.ipynb (run: .venv/bin/python notebooks/_build/04_embeddings.py)."""

from __future__ import annotations

from common import FAST_NOTE, write_notebook
from nbformat.v4 import new_code_cell, new_markdown_cell

CELLS = [
    new_markdown_cell(
        "# Embeddings: watch the representation organise itself\n\n"
        "The explorer takes the features a layer computes for a fixed probe set (by default the "
        "input of the last Linear layer), projects them to 2-D with PCA, t-SNE or UMAP, and "
        "draws them with WebGL. **Hover** a point to see its image, label, prediction and "
        "confidence (drawn in the browser, no kernel round trip). **Shift-drag** (or the Box / "
        "Lasso tools) selects points: the selection comes back to Python as "
        "`explorer.selected` and is shown as a gallery below. **Click** a point to make it the "
        "sample the feature-map view shows. Wheel zooms, drag pans, double-click resets.\n\n"
        "Digits first, then coloured shapes, where the change training makes is larger.\n\n"
        + FAST_NOTE),
    new_code_cell(
        "import os, time\n"
        "import numpy as np\n"
        "import torch\n"
        "import nbviz\n\n"
        'FAST = os.environ.get("NBVIZ_FAST") == "1"   # the test suite\'s short schedule\n\n\n'
        "def same_label_neighbours(explorer):\n"
        '    """Share of points whose nearest neighbour in the plot has the same label."""\n'
        "    xy = np.frombuffer(explorer.scatter.positions, np.float32).reshape(-1, 2)\n"
        "    labels = np.frombuffer(explorer.scatter.labels, np.int32)\n"
        "    distances = ((xy[:, None] - xy[None]) ** 2).sum(-1)\n"
        "    np.fill_diagonal(distances, np.inf)\n"
        "    return (labels[distances.argmin(1)] == labels).mean()\n\n\n"
        "torch.manual_seed(0)\n"
        "digits = nbviz.datasets.digits()\n"
        "train_loader, val_loader = digits.loaders(batch_size=64)\n"
        "session = nbviz.TrainingSession(nbviz.models.MnistCNN(), train_loader, val_loader,\n"
        "                                epochs=4 if FAST else 12, lr=0.01)\n"
        "explorer = nbviz.EmbeddingExplorer(session, n_samples=len(digits.val), method=\"tsne\",\n"
        '                                   color_by="label")   # all 359 validation digits\n'
        "explorer"),
    new_markdown_cell("The first layout is computed in the background (t-SNE animates with a "
                      "progress bar and a Cancel button); `wait()` blocks until it is done. A "
                      "number to compare with later: how often a point's nearest neighbour in "
                      "the plot has its label (10% would be chance for ten classes). Digits "
                      "differ so much in their strokes that even the features of this untrained "
                      "network keep most of them apart, and t-SNE finds that."),
    new_code_cell(
        "explorer.wait()\n"
        "print(explorer.status.value.split('>')[1].split('<')[0])\n"
        'print(f"digits t-SNE, untrained: same-label nearest neighbour for '
        '{same_label_neighbours(explorer):.0%} of points")'),
    new_markdown_cell("Train, with a dashboard to watch the curves. After each epoch the layout "
                      "is recomputed, warm-started from the previous one, so points glide "
                      "instead of jumping: scroll up to the plot and watch the clusters tighten "
                      "(about half a minute)."),
    new_code_cell(
        "started = time.monotonic()\n"
        "session.start()\n"
        "nbviz.Dashboard(session, tabs=[])"),
    new_code_cell(
        "session.wait()\n"
        "explorer.refresh()   # the UI pump does this on its own; here to finish deterministically\n"
        "explorer.wait()\n"
        "print(explorer.status.value.split('>')[1].split('<')[0])\n"
        'print(f"digits t-SNE, trained: same-label nearest neighbour for '
        '{same_label_neighbours(explorer):.0%} of points")\n'
        'print(f"digits: validation accuracy {session.history.last(\'val_accuracy\'):.1%} after '
        '{session.epoch} epochs ({time.monotonic() - started:.0f} s)")'),
    new_markdown_cell("Colour by whether the model got each sample right, and select every "
                      "wrongly classified point from code (a box or lasso in the plot does the same):"),
    new_code_cell(
        'explorer.color_select.value = "correct"\n'
        "pred = np.frombuffer(explorer.scatter.predictions, np.int32)\n"
        "labels = np.frombuffer(explorer.scatter.labels, np.int32)\n"
        "explorer.selected = np.flatnonzero(pred != labels).tolist()\n"
        'print(len(explorer.selected), "misclassified of", len(labels))'),
    new_markdown_cell(
        "## Shapes: colour images\n\n"
        "The same on 3 x 32 x 32 coloured shapes with a residual BatchNorm network, with PCA "
        "(instant). Colour and background are random, so the network must learn outlines; it "
        "needs a few hundred batches before the classes start to separate (about a minute). "
        "A small callback divides the learning rate by ten for the last two epochs so the "
        "weights settle."),
    new_code_cell(
        "torch.manual_seed(0)\n"
        "shapes = nbviz.datasets.shapes(n=3000)\n"
        "s_train, s_val = shapes.loaders(batch_size=64)\n"
        "shapes_model = nbviz.models.ShapesCNN(width=16)\n"
        "adam = torch.optim.Adam(shapes_model.parameters(), lr=0.002)\n"
        "shapes_session = nbviz.TrainingSession(shapes_model, s_train, s_val, optimizer=adam, epochs=10)\n\n\n"
        "class SettleAtTheEnd:\n"
        '    """For the last two epochs, train at a tenth of the learning rate."""\n'
        "    def on_epoch_end(self, run):\n"
        "        if run.epoch == run.epochs - 2:\n"
        "            run.lr = run.lr / 10\n\n\n"
        "shapes_session.add_callback(SettleAtTheEnd())\n"
        'shapes_explorer = nbviz.EmbeddingExplorer(shapes_session, n_samples=len(shapes.val), method="pca",\n'
        "                                          class_names=shapes.classes)\n"
        "shapes_explorer"),
    new_code_cell(
        "shapes_explorer.wait()\n"
        'print(f"shapes PCA, untrained: same-label nearest neighbour for '
        '{same_label_neighbours(shapes_explorer):.0%} of points")\n'
        "started = time.monotonic()\n"
        "shapes_session.start()\n"
        "nbviz.Dashboard(shapes_session, tabs=[])"),
    new_code_cell(
        "shapes_session.wait()\n"
        "shapes_explorer.refresh()\n"
        "shapes_explorer.wait()\n"
        "print(shapes_explorer.status.value.split('>')[1].split('<')[0])\n"
        'print(f"shapes PCA, trained: same-label nearest neighbour for '
        '{same_label_neighbours(shapes_explorer):.0%} of points")\n'
        'print(f"shapes: validation accuracy {shapes_session.history.last(\'val_accuracy\'):.1%} after '
        '{shapes_session.epoch} epochs ({time.monotonic() - started:.0f} s)")'),
    new_markdown_cell("PCA keeps the two directions of largest spread, which need not separate "
                      "every class. t-SNE keeps neighbours together instead: switch the method "
                      "(the dropdown above does the same) and compare."),
    new_code_cell(
        'shapes_explorer.method_select.value = "tsne"\n'
        "shapes_explorer.wait()\n"
        "print(shapes_explorer.status.value.split('>')[1].split('<')[0])\n"
        'print(f"shapes t-SNE, trained: same-label nearest neighbour for '
        '{same_label_neighbours(shapes_explorer):.0%} of points")'),
    new_markdown_cell("Select a cluster in the digits plot above (shift-drag), then run this cell "
                      "to see what reached Python:"),
    new_code_cell('print("SELECTED", len(explorer.selected), explorer.selected[:8])'),
]


if __name__ == "__main__":
    write_notebook(CELLS, "04_embeddings.ipynb")
