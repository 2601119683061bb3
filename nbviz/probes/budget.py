"""When a recorder or a live view may take its next sample without slowing training.

One rule serves every probe that runs while training does (weight and gradient statistics,
the loss-landscape trajectory, activation statistics, feature-map captures, decision-boundary
grids): a sample that cost ``c`` seconds is followed by at least ``c / share`` seconds
without one, so sampling takes at most ``share`` of the wall time, and samples are at least
``min_interval`` seconds apart. The first :data:`FIRST_SAMPLES` samples are spaced by
``min_interval`` alone, whatever they cost, so a short run (a lesson, a quick check) still
shows a curve, and the first sample's one-off warm-up cost does not stall the next ones.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

FIRST_SAMPLES = 8  # spaced by min_interval alone, before the share spaces samples out


class TimeBudget:
    """Spacing of samples by their cost.

    Attributes:
        min_interval: seconds between samples at least (may be changed at any time).
        share: largest fraction of wall time samples may take (``inf``: no limit).
        samples: samples recorded so far.
        spent: seconds they took in all.
        last_cost: seconds the last one took.
    """

    def __init__(self, min_interval: float, share: float, first: int = FIRST_SAMPLES,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        if not min_interval >= 0:
            raise ValueError(f"min_interval must be a number of seconds >= 0, got {min_interval!r}")
        if not share > 0:
            raise ValueError(f"share must be a fraction of time > 0, got {share!r}")
        self.min_interval, self.share, self.first, self.clock = min_interval, share, first, clock
        self.samples = 0
        self.spent = 0.0
        self.last_cost = 0.0
        self._last_at = -math.inf

    def wait(self) -> float:
        """Seconds that must pass after the last sample before the next one."""
        if self.samples < self.first:
            return self.min_interval
        return max(self.min_interval, self.last_cost / self.share)

    def due(self) -> bool:
        """Whether enough time has passed since the last sample."""
        return self.clock() - self._last_at >= self.wait()

    def record(self, cost: float) -> None:
        """A sample that took ``cost`` seconds has just ended."""
        self.samples += 1
        self.spent += cost
        self.last_cost = cost
        self._last_at = self.clock()

    def charge(self, cost: float) -> None:
        """More cost of the last sample, found after it ended (drawing what it measured, say)."""
        self.spent += cost
        self.last_cost += cost

    def reset(self) -> None:
        """Forget every sample: the next one is due at once."""
        self.samples, self.spent, self.last_cost, self._last_at = 0, 0.0, 0.0, -math.inf


__all__ = ["FIRST_SAMPLES", "TimeBudget"]
