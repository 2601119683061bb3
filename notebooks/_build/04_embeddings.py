"""Writes notebooks/04_embeddings.ipynb (run: .venv/bin/python notebooks/_build/04_embeddings.py)."""

from __future__ import annotations

from common import write_notebook
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
        "sample the feature-map view shows. Wheel zooms, drag pans, double-click resets."),
    new_code_cell(
        "import torch\n"
        "import nbviz\n\n"
        "torch.manual_seed(0)\n"
        "digits = nbviz.datasets.digits()\n"
        "train_loader, val_loader = digits.loaders(batch_size=64)\n"
        "session = nbviz.TrainingSession(nbviz.models.MnistCNN(), train_loader, val_loader, epochs=2, lr=0.05)\n"
        'explorer = nbviz.EmbeddingExplorer(session, n_samples=1000, method="tsne", color_by="label")\n'
        "explorer"),
    new_markdown_cell("Before training the classes overlap. The first layout is computed in the "
                      "background (t-SNE animates with a progress bar and a Cancel button); "
                      "`wait()` blocks until it is done:"),
    new_code_cell("explorer.wait()\nprint(explorer.status.value.split('>')[1].split('<')[0])"),
    new_markdown_cell("Train. After each epoch the layout is recomputed, warm-started from the "
                      "previous one, so points glide into their class clusters instead of jumping."),
    new_code_cell(
        "session.start()\n"
        "session.wait()\n"
        "explorer.refresh()   # the UI pump does this on its own; here to finish deterministically\n"
        "explorer.wait()\n"
        "print(explorer.status.value.split('>')[1].split('<')[0])"),
    new_markdown_cell("Colour by whether the model got each sample right, and select every "
                      "wrongly classified point from code (a box or lasso in the plot does the same):"),
    new_code_cell(
        'explorer.color_select.value = "correct"\n'
        "import numpy as np\n"
        "pred = np.frombuffer(explorer.scatter.predictions, np.int32)\n"
        "labels = np.frombuffer(explorer.scatter.labels, np.int32)\n"
        "explorer.selected = np.flatnonzero(pred != labels).tolist()\n"
        'print(len(explorer.selected), "misclassified of", len(labels))'),
    new_markdown_cell("## Shapes: colour images\n\nThe same on 3 x 32 x 32 coloured shapes with a "
                      "residual BatchNorm network, with PCA (instant)."),
    new_code_cell(
        "shapes = nbviz.datasets.shapes(n=600)\n"
        "s_train, s_val = shapes.loaders(batch_size=64)\n"
        "shapes_session = nbviz.TrainingSession(nbviz.models.ShapesCNN(width=16), s_train, s_val, epochs=1, lr=0.05)\n"
        'shapes_explorer = nbviz.EmbeddingExplorer(shapes_session, n_samples=120, method="pca",\n'
        "                                          class_names=shapes.classes)\n"
        "shapes_explorer"),
    new_code_cell(
        "shapes_explorer.wait()\n"
        "shapes_session.start()\n"
        "shapes_session.wait()\n"
        "shapes_explorer.refresh()\n"
        "shapes_explorer.wait()\n"
        "print(shapes_explorer.status.value.split('>')[1].split('<')[0])"),
    new_markdown_cell("Select a cluster in the digits plot above (shift-drag), then run this cell "
                      "to see what reached Python:"),
    new_code_cell('print("SELECTED", len(explorer.selected), explorer.selected[:8])'),
]


if __name__ == "__main__":
    write_notebook(CELLS, "04_embeddings.ipynb")
