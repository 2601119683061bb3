"""Writes notebooks/09_sweeps.ipynb (run: .venv/bin/python notebooks/_build/09_sweeps.py)."""

from __future__ import annotations

from common import FAST_NOTE, write_notebook
from nbformat.v4 import new_code_cell, new_markdown_cell

CELLS = [
    new_markdown_cell(f"""# Hyperparameter sweeps, live

The tutorials search learning rate × weight decay with nested loops that print numbers.
`nbviz.Sweep` runs the same search from one cell and shows every trial as it trains: a table
of trials, every trial's validation curve on one chart (pruned ones grey and dashed with a
cross, the best one red), the parameters against the result as parallel coordinates, and
which parameter mattered most. Pick a trial to **Stop** it, **clone** it with changes
(`lr=0.003`), or open its own **dashboard**.

Sampling (grid, random, TPE) and pruning (median, successive halving, Hyperband) are
Optuna's. Trials run on Dask: by default a local cluster with one worker process per core
(torch threads split between them); pass `executor=Client("tcp://scheduler:8786")` and the
same cell runs on a cluster. The sweep is kept on disk (`nbviz-sweeps/NAME/`): run the cell
again after a kernel restart and it resumes.

{FAST_NOTE}"""),
    new_code_cell("""\
import os
import torch
import pandas as pd
import nbviz
from nbviz.sweep import log_uniform

FAST = os.environ.get("NBVIZ_FAST") == "1"   # the test suite's short schedule
EPOCHS = 1 if FAST else 4

def build(lr, weight_decay):
    \"\"\"One trial: the reference CNN on digits with these hyperparameters (runs on a worker).\"\"\"
    torch.manual_seed(0)
    train_loader, val_loader = nbviz.datasets.digits().loaders(batch_size=64)
    model = nbviz.models.SmallCNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    return nbviz.TrainingSession(model, train_loader, val_loader, optimizer=optimizer, epochs=EPOCHS)"""),
    new_markdown_cell("## 1. The tutorials' grid: learning rate × weight decay\n\n"
                      "Press **Run** in the view, or run the next cell."),
    new_code_cell("""\
lrs = [0.01, 0.1] if FAST else [0.003, 0.01, 0.03, 0.1]
decays = [0.0, 1e-3] if FAST else [0.0, 1e-4, 1e-3]
grid = nbviz.Sweep(build, {"lr": lrs, "weight_decay": decays}, method="grid")
grid"""),
    new_code_cell("""\
grid.start()
grid.wait()
best = grid.best_trial
accuracy = best.curves["val_accuracy"].last()
print(f"grid: best of {len(grid.trials)} trials {best.params}, val_loss {best.value:.3f}")
print(f"digits: validation accuracy {100 * accuracy:.1f}% for the best grid trial")
grid.dataframe()"""),
    new_markdown_cell("""## 2. Random search and TPE, with pruning

A log-uniform learning rate and weight decay instead of a few fixed values. The median pruner
stops a trial whose validation loss after an epoch is worse than the median of the trials
before it at the same step, so bad learning rates cost one epoch instead of all of them.
TPE starts like random search (5 trials) and then samples where good trials were."""),
    new_code_cell("""\
space = {"lr": log_uniform(1e-3, 0.3), "weight_decay": log_uniform(1e-6, 1e-2)}
n = 4 if FAST else 16
random_search = nbviz.Sweep(build, space, method="random", n_trials=n, pruner="median", seed=0)
random_search"""),
    new_code_cell("""\
random_search.start()
random_search.wait()
tpe = nbviz.Sweep(build, space, method="tpe", n_trials=n, pruner="median", seed=1)
tpe.start()
tpe.wait()
tpe"""),
    new_markdown_cell("## 3. Compared\n\nBest validation loss, trials pruned, and the time the "
                      "trials took (worker seconds), for each search:"),
    new_code_cell("""\
rows = []
for name, sweep in [("grid", grid), ("random", random_search), ("tpe", tpe)]:
    df = sweep.dataframe()
    rows.append({"search": name, "trials": len(df), "pruned": int((df.state == "pruned").sum()),
                 "best val_loss": sweep.best_value, "best params": sweep.best_params,
                 "trial seconds": round(float(df.duration_s.sum()), 1)})
pd.DataFrame(rows).set_index("search")"""),
    new_markdown_cell("""The best trial's trained weights are saved in the TrainingSession checkpoint
format: `TrainingSession.restore` (or `sweep.trial_session(n)`, which also gives any other
trial's history) loads them back in this kernel."""),
    new_code_cell("""\
print(tpe.best_checkpoint)
session = tpe.trial_session(tpe.best_trial.number)
print(f"best TPE trial: step {session.step_count}, val_loss {session.history.last('val_loss'):.3f}")"""),
]

if __name__ == "__main__":
    write_notebook(CELLS, "09_sweeps.ipynb")
