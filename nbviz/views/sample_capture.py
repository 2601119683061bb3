"""One layer's output for one probe sample, captured at a batch boundary and kept for a view.

Shared by the views that show a layer for the selected sample (feature maps, unit
activations): a capture is asked for when the layer or sample changes, or when training has
moved on (at once if it is paused or over; while it runs, as its time budget allows); at
most one capture is in flight, so fast switching never queues forward passes faster than
training drains them.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import torch

from ..probes.budget import TimeBudget
from ..probes.capture import capture_activations

BUDGET = 0.0025  # largest share of wall time re-captures driven by training may take

if TYPE_CHECKING:
    from .base import LiveView

Key = tuple[str, int]  # (layer, probe sample)


class SampleCapture:
    """The cached capture of one (layer, sample) for ``view``.

    Attributes:
        key: the (layer, sample) of ``value``, or None before the first capture.
        value: the captured output of that sample (no batch axis), None if it failed.
        step: the training step it was taken at.
        error: why the last capture failed ("" if it did not).
        captures: forward passes run so far (for tests and benches).
        timing: when training-driven re-captures are due (``min_interval``: the view's own).
    """

    def __init__(self, view: LiveView, inputs: torch.Tensor, interval: float) -> None:
        self.view, self.inputs = view, inputs
        self.timing = TimeBudget(interval, BUDGET, clock=time.monotonic)
        self.key: Key | None = None
        self.value: torch.Tensor | None = None
        self.step = -1
        self.error = ""
        self.captures = 0
        self.asked: Key | None = None
        self.asked_at = 0.0

    def update(self, key: Key, calls: int) -> None:
        """Ask for ``key`` if it is not what is cached or training moved on (pump thread)."""
        session = self.view.session
        # while training runs, as the time budget allows; otherwise it slows nothing down
        moved = session.step_count != self.step and (self.timing.due() or session.state != "running")
        if (self.key != key or moved) and self.asked is None:
            self._ask(key, calls)
            self.view.deliver_answers()  # at once when no training loop is running

    def waiting_longer_than(self, seconds: float) -> bool:
        return self.asked is not None and time.monotonic() - self.asked_at > seconds

    def _ask(self, key: Key, calls: int) -> None:
        layer, sample = key
        session, inputs = self.view.session, self.inputs[sample:sample + 1]
        model = session.model

        def work() -> tuple[torch.Tensor, int]:
            t0 = time.perf_counter()
            captured = capture_activations(model, inputs, [layer], {layer: calls})
            self.timing.record(time.perf_counter() - t0)
            return captured[layer][0], session.step_count

        def on_result(result: tuple[torch.Tensor, int]) -> None:
            self.asked, self.error = None, ""
            self.value, self.step = result
            self.key = key
            self.captures += 1

        def on_error(error: BaseException) -> None:
            self.asked = None
            self.key, self.value, self.step = key, None, session.step_count
            self.error = f"could not capture {layer!r}: {error}"

        self.asked, self.asked_at = key, time.monotonic()
        self.view.ask(work, on_result, on_error)
