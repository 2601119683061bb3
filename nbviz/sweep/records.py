"""The kernel's live picture of every trial (what the view draws), thread-safe."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ..session.history import BoundedSeries

CURVE_CAPACITY = 512  # points kept per trial per metric
FINAL = ("complete", "pruned", "stopped", "failed")


@dataclass
class TrialRecord:
    """One trial as the kernel knows it (``state``: waiting, running, complete, pruned,
    stopped or failed)."""

    number: int
    params: dict[str, Any]
    state: str = "waiting"
    value: float | None = None
    best: float | None = None  # best value of the sweep's metric seen during the trial
    worker: str = ""
    attempts: int = 0
    started: float | None = None
    ended: float | None = None
    seconds: float | None = None
    error: str = ""
    traceback: str = ""
    clone_of: int | None = None
    attempt: str = ""
    curves: dict[str, BoundedSeries] = field(default_factory=dict)
    history: dict[str, Any] | None = None

    @property
    def duration(self) -> float | None:
        if self.seconds is not None:
            return self.seconds
        if self.started is None:
            return None
        return (self.ended or time.monotonic()) - self.started

    def curve(self, metric: str) -> BoundedSeries:
        series = self.curves.get(metric)
        if series is None:
            series = self.curves[metric] = BoundedSeries(CURVE_CAPACITY)
        return series


class Records:
    """Every trial of a sweep, by number, with a version that bumps on any change."""

    def __init__(self, minimize: bool) -> None:
        self.minimize = minimize
        self.lock = threading.RLock()
        self.trials: dict[int, TrialRecord] = {}
        self.version = 0
        self.metrics: list[str] = []
        self.status = ""

    def touch(self) -> None:
        self.version += 1

    def better(self, a: float | None, b: float | None) -> bool:
        """True when ``a`` beats ``b`` in the sweep's direction (None never beats)."""
        if a is None:
            return False
        return b is None or (a < b if self.minimize else a > b)

    def best(self) -> TrialRecord | None:
        with self.lock:
            found = None
            for record in self.trials.values():
                if record.state == "complete" and self.better(record.value, found.value if found else None):
                    found = record
            return found

    def snapshot(self) -> list[TrialRecord]:
        with self.lock:
            return sorted(self.trials.values(), key=lambda r: r.number)

    def add_points(self, number: int, points: dict[str, list[list[float]]], metric: str) -> None:
        with self.lock:
            record = self.trials.get(number)
            if record is None:
                return
            for name, rows in points.items():
                if name not in self.metrics:
                    self.metrics.append(name)
                series = record.curve(name)
                for step, value in rows:
                    series.append(float(step), float(value))
                    if name == metric and self.better(float(value), record.best):
                        record.best = float(value)
            self.touch()
