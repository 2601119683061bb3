"""Checking an objective against the space before any trial: how to call it, which keys it reads."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import optuna.distributions as od

from .space import SweepSpaceError, first_values
from .trial import Trial


class _DryRunDone(Exception):
    """Ends the check run: every key was read, or the objective began to report."""


class _DryTrial(Trial):
    def log(self, step: int, **metrics: float) -> bool:
        raise _DryRunDone

    def intermediate(self, step: int, value: float) -> str | None:
        raise _DryRunDone

    def should_stop(self) -> bool:
        raise _DryRunDone


def call_style(objective: Any, space: dict[str, od.BaseDistribution]) -> str:
    """"trial" for ``objective(trial)``, "params" for ``objective(lr=..., ...)``; checks the
    signature against the space's keys."""
    if not callable(objective):
        raise TypeError(f"objective must be a function (or class) that builds a TrainingSession from the "
                        f"parameters, or takes a trial; got {type(objective).__name__}")
    try:
        signature = inspect.signature(objective)
    except (TypeError, ValueError):
        return "trial"
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    named = [p for p in signature.parameters.values() if p.kind in kinds]
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
    if len(named) == 1 and named[0].name not in space and not var_kw:
        return "trial"
    required = [p.name for p in named if p.default is inspect.Parameter.empty and p.name not in space]
    if required:
        raise SweepSpaceError(f"the objective needs {required} but the space has no such keys "
                              f"(it has {sorted(space)}); add them to the space or give them defaults")
    unread = sorted(set(space) - {p.name for p in named})
    if unread and not var_kw:
        raise SweepSpaceError(f"the objective never reads space key(s) {unread}: its parameters are "
                              f"{[p.name for p in named]}; remove those keys or add the parameters")
    return "params"


def check_reads(objective: Callable[..., Any], space: dict[str, od.BaseDistribution], metric: str) -> None:
    """Run ``objective(trial)`` in the kernel until it has read every key (or begins to report)
    and fail if a space key was never read. Trains nothing: it stops at the last key read."""
    params = first_values(space)
    trial = _DryTrial(-1, params, metric, None)
    keys = set(space)

    def on_read(key: str) -> None:
        if trial.params.read >= keys:
            raise _DryRunDone

    trial.params._on_read = on_read
    try:
        objective(trial)
    except _DryRunDone:
        pass
    except Exception as exc:
        raise SweepSpaceError(f"the objective failed when checked with {params} before any trial: "
                              f"{type(exc).__name__}: {exc}") from exc
    unread = sorted(keys - trial.params.read)
    if unread:
        raise SweepSpaceError(f"the objective never reads space key(s) {unread} (read before its first "
                              f"report: {sorted(trial.params.read)}); remove them from the space or "
                              "use them, e.g. trial.params['lr']")
