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
        "history and marked on the loss curve.\n\n"
        "The data are 3,000 coloured shapes in ten classes. Colour and background are random, "
        "so only the outline tells the classes apart: the network needs a few hundred batches "
        "before it finds that out, and the training below takes about a minute."),
    new_code_cell(
        "import time\n"
        "import torch\n"
        "import nbviz\n"
        "from nbviz.augment import AugmentationError\n\n"
        "torch.manual_seed(0)\n"
        "data = nbviz.datasets.shapes(n=3000)           # 3 x 32 x 32 coloured shapes, no download\n"
        "train_loader, val_loader = data.loaders(batch_size=64)\n"
        "model = nbviz.models.ShapesCNN(width=16)\n"
        "optimizer = torch.optim.Adam(model.parameters(), lr=0.002)\n"
        "session = nbviz.TrainingSession(model, train_loader, val_loader, optimizer=optimizer, epochs=14)"),
    new_markdown_cell("Toggle an augmentation and watch the preview; **Reroll** draws new random "
                      "versions of the same samples."),
    new_code_cell("panel = nbviz.AugmentationPanel(session, samples=4, draws=5)\npanel"),
    new_markdown_cell(
        "The same from code. A mirrored shape is still the same shape, so a horizontal flip "
        "keeps every label right; a 45° rotation would not (it turns a square into a diamond, "
        "another class). Colour changes keep labels right too, but colours are already random "
        "in these images, so they teach the network nothing new. Settings that make no sense "
        "are refused with the reason, and the pipeline in force stays as it was."),
    new_code_cell(
        'panel.set("hflip", True)\n'
        "try:\n"
        '    panel.set("crop", True, size=48)   # larger than the 32 x 32 images\n'
        "except AugmentationError as error:\n"
        '    print("refused:", error)\n'
        "print(panel.spec.active_ops())"),
    new_markdown_cell(
        "Train with it, with a dashboard to watch the curves. For the last two epochs a small "
        "callback (it runs in the training thread after each epoch) divides the learning rate "
        "by ten, so the weights settle; that change is marked on the loss curve too."),
    new_code_cell(
        "class SettleAtTheEnd:\n"
        '    """For the last two epochs, train at a tenth of the learning rate."""\n'
        "    def on_epoch_end(self, run):\n"
        "        if run.epoch == run.epochs - 2:\n"
        "            run.lr = run.lr / 10\n\n"
        "session.add_callback(SettleAtTheEnd())\n"
        "started = time.monotonic()\n"
        "session.start()\n"
        "nbviz.Dashboard(session, tabs=[])"),
    new_markdown_cell("Wait for the end of the run; the history says when each change reached "
                      "the training data, and what the model reached (guessing gets 10%):"),
    new_code_cell(
        "session.wait()\n"
        "for kind in (\"augmentation\", \"hyperparameter\"):\n"
        "    for event in session.history.events_of(kind):\n"
        '        print(f"step {event.step}: {event.description}")\n'
        'print(f"shapes: validation accuracy {session.history.last(\'val_accuracy\'):.1%} after '
        '{session.epoch} epochs "\n'
        '      f"({session.step_count} steps, {time.monotonic() - started:.0f} s)")'),
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
