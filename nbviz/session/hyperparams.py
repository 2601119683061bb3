"""Validated hyperparameter changes applied to a torch optimizer."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

# (low, high, low inclusive) for each name; values outside are refused.
LIMITS: dict[str, tuple[float, float, bool]] = {
    "lr": (0.0, 10.0, False),
    "weight_decay": (0.0, 1.0, True),
    "momentum": (0.0, 1.0, True),
}


class HyperparameterError(ValueError):
    """A hyperparameter value was refused; the previous value stays in force."""


@dataclass(frozen=True)
class Change:
    name: str
    old: float
    new: float


def validate(name: str, value: object) -> float:
    """Return ``value`` as a float if it is an acceptable ``name``, else raise.

    Raises:
        HyperparameterError: for unknown names, non-numbers, NaN, infinities and values
            outside the sensible range.
    """
    if name not in LIMITS:
        raise HyperparameterError(
            f"unknown hyperparameter {name!r}; nbviz can change {', '.join(LIMITS)}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise HyperparameterError(f"{name} must be a number, got {value!r}")
    value = float(value)
    low, high, low_ok = LIMITS[name]
    if not math.isfinite(value):
        raise HyperparameterError(f"{name} must be a finite number, got {value}; kept the old value")
    if value < low or (value == low and not low_ok) or value > high:
        bound = ">=" if low_ok else ">"
        raise HyperparameterError(
            f"{name}={value:g} is out of range: it must be {bound} {low:g} and <= {high:g}; "
            "kept the old value")
    return value


def current(optimizer: torch.optim.Optimizer, name: str) -> float | None:
    """The value of ``name`` in the optimizer's first parameter group, if it has one."""
    group = optimizer.param_groups[0]
    if name == "momentum" and "momentum" not in group and "betas" in group:
        return float(group["betas"][0])
    value = group.get(name)
    return None if value is None else float(value)


def check_supported(optimizer: torch.optim.Optimizer, name: str) -> None:
    if current(optimizer, name) is None:
        raise HyperparameterError(
            f"{type(optimizer).__name__} has no {name!r}; it has "
            f"{', '.join(k for k in LIMITS if current(optimizer, k) is not None)}")


def apply(optimizer: torch.optim.Optimizer, name: str, value: float) -> Change:
    """Set ``name`` in every parameter group (in the training thread)."""
    old = current(optimizer, name)
    for group in optimizer.param_groups:
        if name == "momentum" and "momentum" not in group and "betas" in group:
            group["betas"] = (value, group["betas"][1])
        else:
            group[name] = value
    return Change(name, float(old if old is not None else math.nan), value)
