"""Writes notebooks/03_augmentation.ipynb (run: .venv/bin/python notebooks/_build/03_augmentation.py)."""

from __future__ import annotations

from common import write_notebook
from nbformat.v4 import new_code_cell, new_markdown_cell

CELLS = [
    new_markdown_cell(
        "# Augmentation: see it, toggle it, train with it\n\n"
        "The panel below shows the same training images before and after each augmentation, "
        "several random draws side by side. Whatever you switch on goes into the session's "
        "training data: from the next batch when the loader has no worker processes, from the "
        "next epoch when it has (the panel says which). Every change is recorded in the run's "
        "history and marked on the loss curve."),
    new_code_cell(
        "import torch\n"
        "import nbviz\n"
        "from nbviz.augment import AugmentationError\n\n"
        "torch.manual_seed(0)\n"
        "data = nbviz.datasets.shapes(n=800)            # 3 x 32 x 32 coloured shapes, no download\n"
        "train_loader, val_loader = data.loaders(batch_size=64)\n"
        "model = nbviz.models.ShapesCNN(width=16)\n"
        "session = nbviz.TrainingSession(model, train_loader, val_loader, epochs=2, lr=0.05)"),
    new_markdown_cell("Toggle an augmentation and watch the preview; **Reroll** draws new random "
                      "versions of the same samples."),
    new_code_cell("panel = nbviz.AugmentationPanel(session, samples=4, draws=5)\npanel"),
    new_markdown_cell("The same from code: settings that make no sense are refused with the reason, "
                      "and the pipeline in force stays as it was."),
    new_code_cell(
        'panel.set("hflip", True)\n'
        'panel.set("color", True, brightness=0.3, saturation=0.3, hue=0.05)\n'
        "try:\n"
        '    panel.set("crop", True, size=48)   # larger than the 32 x 32 images\n'
        "except AugmentationError as error:\n"
        '    print("refused:", error)\n'
        "print(panel.spec.active_ops())"),
    new_markdown_cell("Train with it. The history records when each change reached the training data."),
    new_code_cell(
        "session.start()\n"
        "session.wait()\n"
        'for event in session.history.events_of("augmentation"):\n'
        '    print(f"step {event.step}: {event.description}")\n'
        'print("final training loss", session.history.get("train_loss")[1][-1])'),
    new_markdown_cell("`panel.code()` is plain torchvision code: paste it into a script to train "
                      "with the same pipeline outside nbviz. It gives the same tensors under the "
                      "same seed:"),
    new_code_cell(
        "print(panel.code())\n"
        "namespace = {}\n"
        "exec(panel.code(), namespace)\n"
        "image = data.train[0][0]\n"
        "torch.manual_seed(3); ours = panel.spec.build()(image)\n"
        'torch.manual_seed(3); theirs = namespace["transform"](image)\n'
        'print("same tensors:", torch.equal(ours, theirs))'),
]


if __name__ == "__main__":
    write_notebook(CELLS, "03_augmentation.ipynb")
