"""Training history in bounded memory, however long the run.

Each per-step series keeps at most ``capacity`` points: when full, neighbouring points are
merged in pairs (x and y averaged) and later points are averaged over twice as many raw
values. A million logged steps cost the same memory as a few thousand.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class BoundedSeries:
    """An (x, y) series that downsamples itself by pair-merging to stay under ``capacity``."""

    def __init__(self, capacity: int = 2048) -> None:
        if capacity < 4 or capacity % 2:
            raise ValueError(f"capacity must be an even number >= 4, got {capacity}")
        self.capacity = capacity
        self._x = np.empty(capacity, dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self._n = 0
        self.stride = 1  # raw values averaged into each new point
        self._acc_x = 0.0
        self._acc_y = 0.0
        self._acc_n = 0
        self.count = 0  # raw values appended in all
        self.version = 0  # bumps on every change, for cheap "did it change" checks

    def append(self, x: float, y: float) -> None:
        self._acc_x += x
        self._acc_y += y
        self._acc_n += 1
        self.count += 1
        self.version += 1
        if self._acc_n < self.stride:
            return
        if self._n == self.capacity:
            half = self.capacity // 2
            self._x[:half] = self._x.reshape(half, 2).mean(axis=1)
            self._y[:half] = self._y.reshape(half, 2).mean(axis=1)
            self._n = half
            self.stride *= 2
        self._x[self._n] = self._acc_x / self._acc_n
        self._y[self._n] = self._acc_y / self._acc_n
        self._n += 1
        self._acc_x = self._acc_y = 0.0
        self._acc_n = 0

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Fresh copies of x and y, including the partially filled last bucket."""
        x, y = self._x[: self._n].copy(), self._y[: self._n].copy()
        if self._acc_n:
            x = np.append(x, self._acc_x / self._acc_n)
            y = np.append(y, self._acc_y / self._acc_n)
        return x, y

    def last(self) -> float | None:
        if self._acc_n:
            return self._acc_y / self._acc_n
        return float(self._y[self._n - 1]) if self._n else None

    def __len__(self) -> int:
        return self._n + (1 if self._acc_n else 0)

    def nbytes(self) -> int:
        return self._x.nbytes + self._y.nbytes

    def state_dict(self) -> dict[str, Any]:
        x, y = self._x[: self._n].copy(), self._y[: self._n].copy()
        return {"capacity": self.capacity, "x": x, "y": y, "stride": self.stride,
                "acc": (self._acc_x, self._acc_y, self._acc_n), "count": self.count}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> BoundedSeries:
        series = cls(state["capacity"])
        n = len(state["x"])
        series._x[:n] = state["x"]
        series._y[:n] = state["y"]
        series._n = n
        series.stride = state["stride"]
        series._acc_x, series._acc_y, series._acc_n = state["acc"]
        series.count = state["count"]
        return series


@dataclass
class Event:
    """Something that happened at a step: a new learning rate, a pause, an error, ..."""

    step: int
    kind: str
    description: str
    wall_time: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)


STEP_SERIES = ("train_loss", "lr", "samples_per_sec", "wall_time")
EPOCH_SERIES = ("val_loss", "val_accuracy", "train_accuracy", "train_epoch_loss")


class History:
    """Everything a run logged, thread-safe, bounded in memory.

    Per-step series are :class:`BoundedSeries` keyed by name (``train_loss``, ``lr``,
    ``samples_per_sec``, ``wall_time`` and any metric passed to :meth:`log_step`). Per-epoch
    series (``val_loss``, ``val_accuracy``, ...) have one point per epoch, x being the step.
    """

    def __init__(self, capacity: int = 2048, max_events: int = 1000) -> None:
        self.capacity = capacity
        self.max_events = max_events
        self.lock = threading.Lock()
        self.series: dict[str, BoundedSeries] = {}
        self.events: list[Event] = []
        self.dropped_events = 0
        self.version = 0
        self.events_version = 0  # bumps when the events change (views rescan them only then)

    def _series(self, name: str) -> BoundedSeries:
        series = self.series.get(name)
        if series is None:
            series = self.series[name] = BoundedSeries(self.capacity)
        return series

    def log(self, step: int, **values: float) -> None:
        """Append finite values at ``step``; NaN and infinities are skipped."""
        with self.lock:
            for name, value in values.items():
                value = float(value)
                if math.isfinite(value):
                    self._series(name).append(float(step), value)
            self.version += 1

    def add_event(self, step: int, kind: str, description: str, wall_time: float = 0.0,
                  **data: Any) -> Event:
        event = Event(step, kind, description, wall_time, data)
        with self.lock:
            self.events.append(event)
            if len(self.events) > self.max_events:
                # keep the first events (how the run began) and the most recent ones
                del self.events[self.max_events // 2]
                self.dropped_events += 1
            self.version += 1
            self.events_version += 1
        return event

    def get(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Fresh copies of the (x, y) arrays of series ``name`` (empty if never logged)."""
        with self.lock:
            series = self.series.get(name)
            if series is None:
                return np.empty(0), np.empty(0)
            return series.arrays()

    def last(self, name: str) -> float | None:
        with self.lock:
            series = self.series.get(name)
            return None if series is None else series.last()

    def names(self) -> list[str]:
        with self.lock:
            return sorted(self.series)

    def events_of(self, kind: str | None = None) -> list[Event]:
        with self.lock:
            return [e for e in self.events if kind is None or e.kind == kind]

    def nbytes(self) -> int:
        with self.lock:
            return sum(s.nbytes() for s in self.series.values())

    def clear(self) -> None:
        with self.lock:
            self.series.clear()
            self.events.clear()
            self.dropped_events = 0
            self.version += 1
            self.events_version += 1

    def state_dict(self) -> dict[str, Any]:
        with self.lock:
            return {
                "capacity": self.capacity,
                "series": {k: s.state_dict() for k, s in self.series.items()},
                "events": [vars(e).copy() for e in self.events],
            }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with self.lock:
            self.capacity = state["capacity"]
            self.series = {k: BoundedSeries.from_state_dict(v) for k, v in state["series"].items()}
            self.events = [Event(**e) for e in state["events"]]
            self.version += 1
            self.events_version += 1
