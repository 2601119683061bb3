"""nbviz.Sweep in one process (executor="serial"): space checks, samplers, pruning, faults,
resuming, checkpoints, and the view. The Dask cluster tests are in test_sweep_dask.py."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import optuna
import pytest
import torch
from torch import nn

import nbviz
from nbviz.sweep import Pruned, Sweep, SweepSpaceError, int_range, log_uniform
from nbviz.sweep.space import parse_space
from nbviz.views.sweep_charts import TrialCurves
from tests.helpers import make_loader, wait_until

GRID = {"x": [0.1, 0.2, 0.3], "y": [0, 1]}


def bowl(trial):
    """A plain objective: reports a curve per step; best at x=0.3, y=0."""
    x, y = trial["x"], trial["y"]
    for step in range(4):
        trial.report(step, loss=(x - 0.3) ** 2 + y + 0.1 * (4 - step))
    return (x - 0.3) ** 2 + y


def sweep(tmp_path, objective=bowl, space=None, **kw):
    kw.setdefault("metric", "loss")
    kw.setdefault("executor", "serial")
    return Sweep(objective, GRID if space is None else space, storage=tmp_path, **kw)


def run(s, timeout=60):
    s.start()
    s.wait(timeout)
    return s


# ---- bad input, before any trial ------------------------------------------------------------
@pytest.mark.parametrize("space, needle", [
    ({"lr": (1e-1, 1e-3)}, "inverted"),
    ({"lr": ("log", 0.0, 1e-1)}, "bounds > 0"),
    ({"lr": log_uniform(-1.0, 1.0)}, "bounds > 0"),
    ({"lr": (0.1, 0.1)}, "empty"),
    ({"lr": []}, "empty"),
    ({"width": int_range(8, 4)}, "inverted"),
    ({"lr": ("cubic", 1, 2)}, "unknown range kind"),
    ({}, "non-empty dict"),
    ({"lr": object()}, "neither a range nor a list"),
])
def test_bad_space_is_refused_with_the_reason(space, needle):
    with pytest.raises(SweepSpaceError, match=needle):
        parse_space(space)


def test_unknown_method_pruner_or_direction_is_refused(tmp_path):
    with pytest.raises(SweepSpaceError, match="unknown method 'bayes'"):
        sweep(tmp_path, method="bayes", n_trials=3)
    with pytest.raises(SweepSpaceError, match="unknown pruner"):
        sweep(tmp_path, pruner="asha")
    with pytest.raises(SweepSpaceError, match="up or down"):
        sweep(tmp_path, metric="smoothness")
    with pytest.raises(SweepSpaceError, match="needs n_trials"):
        sweep(tmp_path, method="random")
    with pytest.raises(SweepSpaceError, match="grid has 6 points"):
        sweep(tmp_path, n_trials=7)
    with pytest.raises(SweepSpaceError, match="grid search needs a list of values for 'x'"):
        sweep(tmp_path, space={"x": (0.0, 1.0), "y": [0]})


def test_a_space_key_the_objective_never_reads_is_refused_before_any_trial(tmp_path):
    calls = []

    def reads_x_only(trial):
        calls.append(trial["x"])
        for step in range(3):
            trial.report(step, loss=trial["x"])
        return 0.0

    with pytest.raises(SweepSpaceError, match=r"never reads space key\(s\) \['y'\]"):
        sweep(tmp_path, objective=reads_x_only)
    assert calls == [0.1]  # the check ran the objective once, up to its first report

    def build(lr):  # keyword style: checked on the signature, nothing runs
        raise AssertionError("never called")

    with pytest.raises(SweepSpaceError, match=r"never reads space key\(s\) \['weight_decay'\]"):
        Sweep(build, {"lr": [0.1], "weight_decay": [0.0]}, storage=tmp_path, executor="serial")
    with pytest.raises(SweepSpaceError, match=r"needs \['momentum'\]"):
        Sweep(lambda lr, momentum: None, {"lr": [0.1]}, storage=tmp_path, executor="serial")


# ---- samplers ------------------------------------------------------------------------------
def test_grid_visits_exactly_the_grid(tmp_path):
    s = run(sweep(tmp_path))
    visited = sorted((t.params["x"], t.params["y"]) for t in s.trials)
    assert visited == sorted((x, y) for x in GRID["x"] for y in GRID["y"])
    assert all(t.state == "complete" for t in s.trials)
    assert s.best_params == {"x": 0.3, "y": 0}
    assert len(s.study.trials) == 6


def _params(tmp_path, method, seed, name):
    s = run(sweep(tmp_path, space={"x": (0.0, 1.0), "y": [0, 1]}, method=method, n_trials=7,
                  seed=seed, name=name))
    return [(round(t.params["x"], 12), t.params["y"]) for t in s.trials]


@pytest.mark.parametrize("method", ["random", "tpe"])
def test_random_and_tpe_are_reproducible_under_a_seed(tmp_path, method):
    first = _params(tmp_path, method, 3, "a")
    again = _params(tmp_path, method, 3, "b")
    other = _params(tmp_path, method, 4, "c")
    assert first == again
    assert first != other
    assert len(set(first)) == 7


# ---- pruning, faults ---------------------------------------------------------------------------
def test_pruned_trials_stop_early(tmp_path):
    steps_run: dict[float, int] = {}

    def slow_bowl(trial):
        x = trial["x"]
        for step in range(10):
            steps_run[x] = step + 1
            trial.report(step, loss=abs(x - 0.5) + 1.0 / (step + 1))
        return abs(x - 0.5)

    s = run(sweep(tmp_path, objective=slow_bowl, space={"x": [0.5, 0.45, 0.55, 0.0, 1.0, 0.1]},
                  pruner="median"))
    states = {t.params["x"]: t.state for t in s.trials}
    pruned = [x for x, state in states.items() if state == "pruned"]
    assert pruned, states
    assert all(steps_run[x] < 10 for x in pruned)
    assert all(steps_run[x] == 10 for x, state in states.items() if state == "complete")
    frozen = {t.params["x"]: t for t in s.study.trials}
    assert all(frozen[x].state == optuna.trial.TrialState.PRUNED for x in pruned)
    for x in pruned:  # the curve of a pruned trial ends where it was stopped
        assert len(s.records.trials[frozen[x].number].curves["loss"]) == steps_run[x]


def test_a_trial_that_raises_is_failed_with_its_traceback_and_the_sweep_goes_on(tmp_path):
    def fragile(trial):
        if trial["x"] == 0.2:
            raise RuntimeError("diverged at x=0.2")
        return bowl(trial)

    s = run(sweep(tmp_path, objective=fragile))
    failed = [t for t in s.trials if t.state == "failed"]
    assert len(failed) == 2 and all(t.params["x"] == 0.2 for t in failed)
    assert "diverged at x=0.2" in failed[0].error
    assert "fragile" in failed[0].traceback and "RuntimeError" in failed[0].traceback
    assert sum(t.state == "complete" for t in s.trials) == 4
    stored = [t for t in s.study.trials if t.state == optuna.trial.TrialState.FAIL]
    assert len(stored) == 2 and "diverged" in stored[0].user_attrs["traceback"]


def test_stop_one_trial_and_clone_another(tmp_path):
    release = threading.Event()

    def long(trial):
        step = 0
        while not release.is_set():  # until stopped, or until the test lets it end: no race with load
            trial.report(step, loss=trial["x"] + trial["y"])
            time.sleep(0.005)
            step += 1
        return trial["x"]

    s = sweep(tmp_path, objective=long, n_trials=2, flush_interval=0.05)
    s.start()
    wait_until(lambda: any(t.state == "running" for t in s.trials))
    first = next(t for t in s.trials if t.state == "running")
    s.stop_trial(first.number)
    wait_until(lambda: s.records.trials[first.number].state == "stopped")
    release.set()
    with pytest.raises(SweepSpaceError, match="must be one of"):
        s.clone(first.number, x=0.25)
    with pytest.raises(SweepSpaceError, match="not a parameter"):
        s.clone(first.number, lr=0.1)
    s.stop_trial(1 - first.number) if (1 - first.number) in s.records.trials else None
    s.wait(60)
    s.clone(first.number, y=1)
    s.wait(60)
    clone = s.trials[-1]
    assert clone.clone_of == first.number and clone.params == {**first.params, "y": 1}
    assert len(s.trials) == 3 and s.study.trials[-1].user_attrs["clone_of"] == first.number


# ---- storage: resume --------------------------------------------------------------------------
def test_a_sweep_resumes_from_disk_and_reruns_what_a_dead_kernel_left_running(tmp_path):
    s = sweep(tmp_path, name="r", n_trials=3)
    run(s)
    # a kernel died while trial 3 ran: Optuna's storage holds it as RUNNING
    orphan = s.study.ask(fixed_distributions=s.space)
    del s
    again = sweep(tmp_path, name="r")
    assert sum(t.state == "complete" for t in again.trials) == 3
    assert "resumed" in again.records.status
    interrupted = again.study.trials[orphan.number]
    assert interrupted.state == optuna.trial.TrialState.FAIL and interrupted.user_attrs["interrupted"]
    run(again)
    complete = [t for t in again.study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 6
    assert sorted((t.params["x"], t.params["y"]) for t in complete) == \
        sorted((x, y) for x in GRID["x"] for y in GRID["y"])


# ---- session objectives -----------------------------------------------------------------------
class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(28 * 28, 10)

    def forward(self, x):
        return self.fc(x.flatten(1))


def build(lr):
    torch.manual_seed(0)
    model = Tiny()
    return nbviz.TrainingSession(model, make_loader(64, 16), make_loader(32, 16, seed=1), epochs=2, lr=lr)


def test_a_session_objective_streams_its_history_and_keeps_the_best_checkpoint(tmp_path):
    s = run(Sweep(build, {"lr": [0.001, 0.05]}, storage=tmp_path, executor="serial"))
    assert all(t.state == "complete" for t in s.trials)
    best = s.best_trial
    assert best is not None and s.best_checkpoint is not None and s.best_checkpoint.exists()
    assert best.value == min(t.value for t in s.trials)
    assert len(best.curves["train_loss"]) > 0 and len(best.curves["val_loss"]) == 2
    session = s.trial_session(best.number)  # the best trial's weights and history, in this kernel
    assert session.step_count == 8 and session.history.last("val_loss") == pytest.approx(best.value)
    other = s.trial_session(next(t.number for t in s.trials if t is not best))
    assert len(other.history.get("val_loss")[1]) == 2 and other.step_count == 0
    df = s.dataframe()
    assert list(df.index) == [0, 1] and set(df["state"]) == {"complete"}
    assert df.loc[best.number, "value"] == best.value
    # val_loss is measured once per epoch: two points a curve, drawn as dots (a line alone
    # between so few points is hard to see, and a single point not at all)
    curves = TrialCurves()
    assert curves.update(s.trials, best, "val_loss") == 2
    assert all(m.marker == "circle" and len(m.x) == 2 for m in curves.marks.values())
    assert curves.update(s.trials, best, "train_loss") == 2
    assert all(m.marker is None for m in curves.marks.values())  # 8 steps: a line
    curves.close()


def test_the_session_metric_must_exist(tmp_path):
    def no_val(lr):
        return nbviz.TrainingSession(Tiny(), make_loader(32, 16), epochs=1, lr=lr)

    s = run(Sweep(no_val, {"lr": [0.01]}, storage=tmp_path, executor="serial"))
    assert s.trials[0].state == "failed" and "logged no 'val_loss'" in s.trials[0].error


# ---- the view ---------------------------------------------------------------------------------
def test_the_view_table_matches_the_storage_and_its_charts_are_finite(tmp_path):
    from nbviz.views.sweep import SweepView

    s = sweep(tmp_path, pruner="median")
    view = SweepView(s)
    try:
        view.refresh()
        assert "no finished trials yet" in view.parallel.figure.title
        view.run_button.click()
        s.wait(60)
        view.refresh()
        rows = {r["number"]: r for r in view.table_rows()}
        stored = s.study.trials
        assert sorted(rows) == [t.number for t in stored]
        names = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed"}
        for t in stored:
            assert rows[t.number]["params"] == t.params
            assert rows[t.number]["state"] == names[t.state.name]
            assert rows[t.number]["value"] == t.value or t.state.name != "COMPLETE"
        for t in stored:  # every row of the table shows that trial's number and state
            assert f"<td>{t.number}</td>" in view.table.value
        y = np.asarray(view.parallel.lines.y)
        assert y.shape == (view.parallel.count, 3) and np.isfinite(y).all()
        assert view.curves.update(s.trials, s.best_trial, "loss") == 6
        for mark in view.curves.marks.values():
            assert np.isfinite(np.asarray(mark.y)).all() and len(mark.x) == len(mark.y)
        assert view.importance.names  # 6 complete trials: importances shown
        # clone from the view: bad text is refused with a message, a good one runs
        view.trial_pick.value = s.best_trial.number
        view.changes.value = "y=5"
        view.clone_button.click()
        view.refresh()
        assert "must be one of" in view.message.value
        view.changes.value = "x=0.2"
        view.clone_button.click()
        s.wait(60)
        view.refresh()
        assert len(view.table_rows()) == 7 and view.table_rows()[-1]["params"] == {"x": 0.2, "y": 0}
    finally:
        view.close()
    assert view._closed


def test_selecting_a_trial_opens_its_dashboard(tmp_path):
    from nbviz.views.sweep import SweepView

    s = run(Sweep(build, {"lr": [0.001, 0.05]}, storage=tmp_path, executor="serial"))
    view = SweepView(s)
    try:
        view.refresh()
        view.trial_pick.value = 0
        view.dashboard_button.click()
        view.refresh()
        assert len(view.trial_box.children) == 2
        dashboard = view.trial_box.children[1]
        assert dashboard.session.history.last("val_loss") == pytest.approx(s.records.trials[0].value)
        assert "Trial 0" in view.trial_box.children[0].value and "lr=" in view.trial_box.children[0].value
    finally:
        view.close()


def test_objective_values_that_are_not_finite_fail_the_trial(tmp_path):
    def nan(trial):
        trial["x"], trial["y"]
        return math.nan

    s = run(sweep(tmp_path, objective=nan, n_trials=1))
    assert s.trials[0].state == "failed" and "no finite value" in s.trials[0].error


def test_a_plain_objective_may_catch_nothing_pruned_propagates(tmp_path):
    assert issubclass(Pruned, Exception)


@pytest.mark.parametrize("pruner", ["successive_halving", "hyperband", optuna.pruners.MedianPruner()])
def test_every_named_pruner_runs_under_ask_and_tell(tmp_path, pruner):
    def curve(trial):
        x = trial["x"]
        for step in range(9):
            trial.report(step, loss=x + 1.0 / (step + 1))
        return x

    s = run(sweep(tmp_path, objective=curve, space={"x": (0.0, 1.0)}, method="random", n_trials=8,
                  seed=0, pruner=pruner))
    assert len(s.trials) == 8 and {t.state for t in s.trials} <= {"complete", "pruned"}
    assert sum(t.state == "complete" for t in s.trials) >= 1
