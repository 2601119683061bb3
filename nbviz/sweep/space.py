"""The search space: a dict of ranges and choices, checked and turned into Optuna distributions.

Values of the dict, per parameter:

* ``log_uniform(1e-4, 1e-1)`` or ``("log", 1e-4, 1e-1)``: a float on a log scale;
* ``uniform(0.0, 0.5)`` or ``(0.0, 0.5)``: a float;
* ``int_range(8, 64, step=8)`` or ``("int", 8, 64)``: a whole number (``log=True`` too);
* a list ``[0.0, 1e-4, 1e-3]``: a choice (also what grid search walks);
* any ``optuna.distributions.BaseDistribution``.

Everything is checked before any trial starts; errors name the parameter and the fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import optuna.distributions as od

GRID_MAX = 10_000


class SweepSpaceError(ValueError):
    """The search space, method or objective does not fit; the message says how to fix it."""


@dataclass(frozen=True)
class Range:
    """A numeric range of a search space (use :func:`log_uniform`, :func:`uniform`, :func:`int_range`)."""

    low: float
    high: float
    log: bool = False
    integer: bool = False
    step: float | None = None


def log_uniform(low: float, high: float) -> Range:
    """A float drawn on a log scale between ``low`` and ``high`` (both > 0)."""
    return Range(low, high, log=True)


def uniform(low: float, high: float, step: float | None = None) -> Range:
    """A float between ``low`` and ``high`` (optionally on a grid of ``step``)."""
    return Range(low, high, step=step)


def int_range(low: int, high: int, step: int = 1, log: bool = False) -> Range:
    """A whole number from ``low`` to ``high`` inclusive."""
    return Range(low, high, log=log, integer=True, step=step)


def _number(name: str, what: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SweepSpaceError(f"space[{name!r}]: the {what} bound must be a finite number, got {value!r}")
    return float(value)


def _from_range(name: str, spec: Range) -> od.BaseDistribution:
    low, high = _number(name, "low", spec.low), _number(name, "high", spec.high)
    if low > high:
        raise SweepSpaceError(f"space[{name!r}]: the range {spec.low!r}..{spec.high!r} is inverted; "
                              f"write the smaller bound first: ({spec.high!r}, {spec.low!r})")
    if low == high:
        raise SweepSpaceError(f"space[{name!r}]: the range {spec.low!r}..{spec.high!r} is empty; "
                              f"to fix the value, pass a one-item list [{spec.low!r}]")
    if spec.log and low <= 0:
        raise SweepSpaceError(f"space[{name!r}]: a log range needs bounds > 0, got {spec.low!r}..{spec.high!r}; "
                              "start it at a small positive number (e.g. 1e-6) or use a linear range")
    if spec.integer:
        if low != int(low) or high != int(high):
            raise SweepSpaceError(f"space[{name!r}]: an int range needs whole-number bounds, "
                                  f"got {spec.low!r}..{spec.high!r}")
        step = int(spec.step or 1)
        if step < 1 or (spec.log and step != 1):
            raise SweepSpaceError(f"space[{name!r}]: step must be a whole number >= 1 (and 1 on a log range)")
        return od.IntDistribution(int(low), int(high), log=spec.log, step=step)
    if spec.step is not None and (spec.log or not spec.step > 0):
        raise SweepSpaceError(f"space[{name!r}]: step must be > 0 and cannot go with a log range")
    return od.FloatDistribution(low, high, log=spec.log, step=spec.step)


def _from_tuple(name: str, spec: tuple) -> od.BaseDistribution:
    kinds = {"log": dict(log=True), "int": dict(integer=True), "uniform": {}, "float": {},
             "log_int": dict(log=True, integer=True)}
    if len(spec) == 3 and isinstance(spec[0], str):
        if spec[0] not in kinds:
            raise SweepSpaceError(f"space[{name!r}]: unknown range kind {spec[0]!r}; use one of "
                                  f"{sorted(kinds)}, e.g. ('log', 1e-4, 1e-1)")
        return _from_range(name, Range(spec[1], spec[2], **kinds[spec[0]]))
    if len(spec) == 2:
        return _from_range(name, Range(spec[0], spec[1]))
    raise SweepSpaceError(f"space[{name!r}]: a tuple is a range, (low, high) or ('log'|'int', low, high); "
                          f"got {spec!r}. For a choice of values, pass a list.")


def to_distribution(name: str, spec: Any) -> od.BaseDistribution:
    """One space entry as an Optuna distribution, or a :class:`SweepSpaceError`."""
    if isinstance(spec, od.BaseDistribution):
        return spec
    if isinstance(spec, Range):
        return _from_range(name, spec)
    if isinstance(spec, tuple):
        return _from_tuple(name, spec)
    if isinstance(spec, (list, range)):
        choices = list(spec)
        if not choices:
            raise SweepSpaceError(f"space[{name!r}]: the list of choices is empty; give at least one value")
        for choice in choices:
            if choice is not None and not isinstance(choice, (bool, int, float, str)):
                raise SweepSpaceError(f"space[{name!r}]: choices must be None, bool, int, float or str "
                                      f"(stored on disk), got {type(choice).__name__}; "
                                      "choose by name and build the object in the objective")
        if len(set(map(repr, choices))) != len(choices):
            raise SweepSpaceError(f"space[{name!r}]: the choices {choices!r} repeat a value")
        return od.CategoricalDistribution(choices)
    raise SweepSpaceError(f"space[{name!r}]: {spec!r} is neither a range nor a list of choices; use "
                          "log_uniform(lo, hi), uniform(lo, hi), int_range(lo, hi) or a list")


def parse_space(space: Any) -> dict[str, od.BaseDistribution]:
    """Check ``space`` (a non-empty dict of str -> entry) and convert every entry."""
    if not isinstance(space, dict) or not space:
        raise SweepSpaceError("space must be a non-empty dict such as "
                              "{'lr': log_uniform(1e-4, 1e-1), 'weight_decay': [0.0, 1e-4]}"
                              f", got {space!r}")
    out = {}
    for name, spec in space.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise SweepSpaceError(f"space keys must be parameter names (identifiers), got {name!r}")
        out[name] = to_distribution(name, spec)
    return out


def grid_values(name: str, dist: od.BaseDistribution) -> list[Any]:
    """The values grid search takes for one parameter."""
    if isinstance(dist, od.CategoricalDistribution):
        return list(dist.choices)
    if isinstance(dist, od.IntDistribution) and not dist.log:
        values = list(range(dist.low, dist.high + 1, dist.step))
        if len(values) <= 100:
            return values
    if isinstance(dist, od.FloatDistribution) and dist.step is not None:
        count = int(round((dist.high - dist.low) / dist.step)) + 1
        if count <= 100:
            return [dist.low + i * dist.step for i in range(count)]
    raise SweepSpaceError(f"grid search needs a list of values for {name!r} (got a continuous range "
                          f"{dist!r}); e.g. space[{name!r}] = [1e-3, 1e-2, 1e-1], or use "
                          "method='random' or 'tpe'")


def grid(space: dict[str, od.BaseDistribution]) -> dict[str, list[Any]]:
    """Grid search's values of every parameter; raises when the grid is too large."""
    values = {name: grid_values(name, dist) for name, dist in space.items()}
    size = math.prod(len(v) for v in values.values())
    if size > GRID_MAX:
        raise SweepSpaceError(f"the grid has {size:,} points (over {GRID_MAX:,}); use fewer values "
                              "per parameter or method='random'/'tpe'")
    return values


def first_values(space: dict[str, od.BaseDistribution]) -> dict[str, Any]:
    """A valid value of every parameter (for checking the objective before any trial)."""
    out: dict[str, Any] = {}
    for name, dist in space.items():
        if isinstance(dist, od.CategoricalDistribution):
            out[name] = dist.choices[0]
        elif isinstance(dist, od.IntDistribution):
            out[name] = dist.low
        elif isinstance(dist, od.FloatDistribution):
            out[name] = math.sqrt(dist.low * dist.high) if dist.log else (dist.low + dist.high) / 2
            if dist.step is not None:
                out[name] = dist.low
        else:  # pragma: no cover - other optuna distributions are deprecated aliases
            raise SweepSpaceError(f"space[{name!r}]: unsupported distribution {dist!r}")
    return out


def coerce(name: str, dist: od.BaseDistribution, value: Any) -> Any:
    """``value`` as a valid value of ``dist`` (for "clone with changes"), or a SweepSpaceError."""
    if isinstance(dist, od.CategoricalDistribution):
        for choice in dist.choices:
            if choice == value or repr(choice) == repr(value) or str(choice) == str(value):
                return choice
        raise SweepSpaceError(f"{name} must be one of {list(dist.choices)!r}, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SweepSpaceError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise SweepSpaceError(f"{name} must be finite, got {value!r}")
    if isinstance(dist, od.IntDistribution):
        if number != int(number):
            raise SweepSpaceError(f"{name} must be a whole number, got {value!r}")
        number = int(number)
    low, high = dist.low, dist.high  # type: ignore[attr-defined]
    if not low <= number <= high:
        raise SweepSpaceError(f"{name} must lie in the space's range {low}..{high}, got {value!r}")
    return number
