"""Writes notebooks/08_loss_landscape.ipynb (run: .venv/bin/python notebooks/_build/08_loss_landscape.py)."""

from __future__ import annotations

from common import write_notebook
from nbformat.v4 import new_code_cell, new_markdown_cell

CELLS = [
    new_markdown_cell(
        "# Loss landscape: where the optimizer is, and the path it took\n\n"
        "`nbviz.LossLandscape(session)` evaluates the loss on a plane through the current weights "
        "on a probe set (1,024 samples by default), coarse to fine (3, 5, 9, 17, 33 and 41 points "
        "a side, each level reusing the last: the first surface shows within a second), on a *copy* "
        "of the model in eval mode (BatchNorm uses its running statistics), in worker threads with "
        "progress and Cancel; white contour lines mark the colour bands. Open it **before** training: it records the path (sparse weight "
        "snapshots, about 1% of training time at most) and draws it projected onto the plane, each "
        "point coloured by its distance from the plane, because a projection is not the path."),
    new_code_cell(
        "import torch\n"
        "import nbviz\n\n"
        "torch.manual_seed(0)\n"
        "digits = nbviz.datasets.digits()\n"
        "train_loader, val_loader = digits.loaders(batch_size=32)\n"
        "session = nbviz.TrainingSession(nbviz.models.SmallCNN(), train_loader, val_loader, epochs=2, lr=0.05)\n"
        "view = nbviz.LossLandscape(session, probe_size=256)\n"
        "view"),
    new_markdown_cell("Train, then press **Compute** (or call `view.compute()`). *PCA of the recorded "
                      "path* gives the plane the path moves in most; *random* the filter-normalised "
                      "directions of Li et al.; *Hessian* the two sharpest directions; *two chosen "
                      "parameters* the loss over, say, one weight and one bias. **Line** evaluates "
                      "the straight line from the start of training to now (Goodfellow et al.)."),
    new_code_cell(
        "session.start()\n"
        "session.wait()\n"
        'view.directions, view.size = "pca", 25\n'
        "view.compute()\n"
        "view._worker.join()  # the button does not wait; here to finish deterministically\n"
        "view.compute_line()\n"
        "view._worker.join()\n"
        "view.refresh()\n"
        "print(view._message[0])"),
    new_markdown_cell(
        "## SGD and Adam from the same start, on one landscape\n\n"
        "The functions behind the view work on their own. Train two copies of the same initial "
        "model, one with SGD and one with Adam, record both paths, and evaluate the plane through "
        "the three points *start*, *SGD end* and *Adam end*: all three lie on it exactly, so their "
        "distances from the plane are 0 there; points along the way are off the plane."),
    new_code_cell(
        "import copy\n"
        "import numpy as np\n"
        "from nbviz.landscape import (Plane, SurfaceJob, TrajectoryRecorder, flat_parameters,\n"
        "                             interpolate, model_copy, project, random_directions)\n\n"
        "torch.manual_seed(1)\n"
        "start = nbviz.models.SmallCNN()\n\n"
        "def run(optimizer, batch_size=32, epochs=2):\n"
        "    model = copy.deepcopy(start)\n"
        "    opt = optimizer(model.parameters())\n"
        "    loader, _ = digits.loaders(batch_size=batch_size)\n"
        "    s = nbviz.TrainingSession(model, loader, epochs=epochs, optimizer=opt)\n"
        "    rec = TrajectoryRecorder(model, every=5).attach(s)\n"
        "    s.start(); s.wait(); rec.detach()\n"
        "    return model, rec.snapshots()[1]\n\n"
        "sgd_model, sgd_path = run(lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9))\n"
        "adam_model, adam_path = run(lambda p: torch.optim.Adam(p, lr=1e-3))\n"
        "w0, w_sgd, w_adam = flat_parameters(start), flat_parameters(sgd_model), flat_parameters(adam_model)\n"
        "centre = (w0 + w_sgd + w_adam) / 3\n"
        'plane = Plane(centre, w0 - centre, w_adam - centre, kind="three points")\n'
        "x, y = torch.cat([b[0] for b in val_loader])[:256], torch.cat([b[1] for b in val_loader])[:256]\n"
        "job = SurfaceJob(model_copy(sgd_model), plane, x, y, torch.nn.functional.cross_entropy,\n"
        "                 size=25, coarse=9, span=1.4)\n"
        "job.run()\n"
        'print(f"{job.size}x{job.size} in {job.seconds:.1f} s")'),
    new_code_cell(
        "import matplotlib.pyplot as plt\n\n"
        "fig, ax = plt.subplots(figsize=(6, 5))\n"
        "levels = np.exp(np.linspace(np.log(job.loss.min()), np.log(job.loss.max()), 15))\n"
        "cs = ax.contourf(job.coords, job.coords, job.loss, levels=levels, cmap='viridis',\n"
        "                 norm=plt.matplotlib.colors.LogNorm())\n"
        "fig.colorbar(cs, label='validation loss (256 samples)', format='%.2g', ticks=levels[::2])\n"
        "for name, path, colour in (('SGD', sgd_path, 'white'), ('Adam', adam_path, 'orange')):\n"
        "    a, b, dist = project(path, plane)\n"
        "    ax.plot(a, b, color=colour, lw=1)\n"
        "    sc = ax.scatter(a, b, c=dist, cmap='Reds', edgecolor=colour, s=18, label=name)\n"
        "    print(f'{name}: largest distance from the plane {dist.max():.3g} '\n"
        "          f'(weights norm {np.linalg.norm(path[-1]):.3g}); end point distance {dist[-1]:.2g}')\n"
        "ax.legend(); ax.set_xlabel('a'); ax.set_ylabel('b')\n"
        "ax.set_title('SGD vs Adam from one start (projected paths)')\n"
        "plt.show()"),
    new_markdown_cell(
        "## Large and small batches: sharp and flat minima?\n\n"
        "Keskar et al. found large-batch training ending in sharper minima. Compare the loss along "
        "one filter-normalised random direction through each end point (the same direction for "
        "both, so the curves are comparable):"),
    new_code_cell(
        "small_model, _ = run(lambda p: torch.optim.SGD(p, lr=0.05), batch_size=16, epochs=2)\n"
        "large_model, _ = run(lambda p: torch.optim.SGD(p, lr=0.05), batch_size=256, epochs=8)\n"
        "fig, ax = plt.subplots(figsize=(6, 3.5))\n"
        "for name, model in (('batch 16', small_model), ('batch 256', large_model)):\n"
        "    w = flat_parameters(model)\n"
        "    d = random_directions(model, count=1, seed=0)[0]\n"
        "    alphas, loss, _acc = interpolate(model_copy(model), w - d, w + d, x, y,\n"
        "                                     torch.nn.functional.cross_entropy, points=21, lo=0.0, hi=1.0)\n"
        "    ax.plot(2 * alphas - 1, loss, marker='.', label=name)\n"
        "    print(f'{name}: loss at the minimum {loss[10]:.3f}, at ±1 filter norm {loss[0]:.3f} / {loss[-1]:.3f}')\n"
        "ax.set_yscale('log'); ax.set_xlabel('step along the direction (filter norms)'); ax.set_ylabel('loss')\n"
        "ax.legend(); plt.show()"),
    new_markdown_cell("On a data set this small the difference is modest and depends on the seed; "
                      "what the picture shows is how to ask the question, not a law."),
]


if __name__ == "__main__":
    write_notebook(CELLS, "08_loss_landscape.ipynb")
