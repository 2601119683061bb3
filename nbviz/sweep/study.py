"""The Optuna side: samplers and pruners by name, the study on disk, resuming it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import optuna
import optuna.distributions as od
from optuna.study import StudyDirection

from .space import SweepSpaceError, grid

METHODS = ("grid", "random", "tpe")
PRUNERS = ("median", "successive_halving", "hyperband")
INTERRUPTED = "interrupted"  # user attr of trials a dead kernel left running


def direction_for(metric: str, direction: str | None) -> str:
    if direction is not None:
        if direction not in ("minimize", "maximize"):
            raise SweepSpaceError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
        return direction
    name = metric.lower()
    if "acc" in name or "score" in name or "f1" in name or "auc" in name:
        return "maximize"
    if "loss" in name or "error" in name or "perplexity" in name:
        return "minimize"
    raise SweepSpaceError(f"say whether {metric!r} should go up or down: "
                          "Sweep(..., direction='minimize' or 'maximize')")


class _Grid(optuna.samplers.GridSampler):
    """Optuna's GridSampler, minus its ``study.stop()`` once the grid is done: it is meant for
    ``study.optimize`` and raises under ask/tell; the sweep counts its own trials."""

    def after_trial(self, study: optuna.Study, trial: Any, state: Any, values: Any) -> None:
        return None


def make_sampler(method: str, space: dict[str, od.BaseDistribution], seed: int | None) -> optuna.samplers.BaseSampler:
    if method == "grid":
        return _Grid(grid(space), seed=seed)
    if method == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if method == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)
    raise SweepSpaceError(f"unknown method {method!r}; use one of {', '.join(repr(m) for m in METHODS)}")


def make_pruner(pruner: Any) -> optuna.pruners.BasePruner:
    if pruner is None:
        return optuna.pruners.NopPruner()
    if isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    if pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    if pruner in ("successive_halving", "sha"):
        return optuna.pruners.SuccessiveHalvingPruner()
    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner()
    raise SweepSpaceError(f"unknown pruner {pruner!r}; use None, one of {', '.join(repr(p) for p in PRUNERS)}, "
                          "or an optuna.pruners.BasePruner")


def open_study(folder: Path, name: str, direction: str, sampler: optuna.samplers.BaseSampler,
               pruner: optuna.pruners.BasePruner) -> optuna.Study:
    """The study ``name`` in ``folder/study.log`` (an Optuna journal file), made or reopened."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    folder.mkdir(parents=True, exist_ok=True)
    storage = JournalStorage(JournalFileBackend(os.fspath(folder / "study.log")))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=storage, study_name=name, direction=StudyDirection[direction.upper()],
                                sampler=sampler, pruner=pruner, load_if_exists=True)
    if study.direction.name.lower() != direction:
        raise SweepSpaceError(f"the study {name!r} in {folder} was made to {study.direction.name.lower()}; "
                              "pass that direction, or a new name= for a new sweep")
    return study


def recover(study: optuna.Study) -> list[dict[str, Any]]:
    """Mark trials a dead kernel left running as failed ("interrupted") and return their
    parameters, to run again."""
    again = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,
                                                         optuna.trial.TrialState.WAITING)):
        storage = study._storage
        storage.set_trial_user_attr(trial._trial_id, INTERRUPTED, True)
        storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
        again.append(dict(trial.params))
    return again


def counted(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Finished trials that count towards ``n_trials`` (not those a kernel restart cut)."""
    return [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()
            and not t.user_attrs.get(INTERRUPTED)]
