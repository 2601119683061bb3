"""Checklist view: the debugging checklist and its two experiments, one button each.

A button only starts a worker thread. The worker runs the checks on copies at the run's
next batch boundary (``session.run_at_batch_boundary``: training waits those seconds, and
the RNG streams and loaders are restored afterwards), and leaves the report's HTML for the
UI pump, which alone writes the widgets (in :meth:`refresh`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import ipywidgets as widgets
import torch

from ..debug import experiments, forward_checks, loss_checks
from ..debug.context import preserved_rng
from ..debug.report import Report
from ..debug.runner import build_context, run_checks
from ..session.base import SessionBase
from ..session.batches import BatchFormat
from .base import LiveView, message_html


def _data(session: SessionBase) -> tuple[Iterable, Iterable | None, BatchFormat]:
    loader = getattr(session, "train_loader", None)
    fmt = getattr(session, "batch_format", None) or BatchFormat()
    if loader is None:  # nbviz.watch(): its probe data is the data it knows
        probe = getattr(session, "probe_data", None)
        if probe is not None and not isinstance(probe, torch.Tensor):
            return probe, None, fmt
        inputs, targets = session.probe_batch(64)
        return [(inputs, targets)], None, BatchFormat()
    return loader, getattr(session, "val_loader", None), fmt


class Checklist(LiveView):
    """Run ``nbviz.check`` on the session's model, loaders, loss and optimizer.

    Args:
        session: a TrainingSession or nbviz.watch(...) run.

    Example:
        >>> nbviz.Checklist(session)
    """

    min_interval = 0.5

    def __init__(self, session: SessionBase, **kwargs: Any) -> None:
        super().__init__(session, **kwargs)
        self.run_button = widgets.Button(description="Run checks", icon="check",
                                         tooltip="data, init, forward, backward, optimizer, loss")
        self.overfit_button = widgets.Button(description="Overfit one batch",
                                             tooltip="train a copy on 16 samples")
        self.lr_button = widgets.Button(description="LR range test",
                                        tooltip="Smith's test on a copy: loss vs learning rate")
        self.status = widgets.HTML(message_html(
            "Run checks looks for bugs in the data, initialisation, forward and backward pass, "
            "optimizer and loss, on copies (training waits at the next batch meanwhile)."))
        self.output = widgets.HTML()
        self._lock = threading.Lock()
        self._busy = False
        self._pending: tuple[str, str] | None = None  # (status html, report html) for the pump
        self.last_report: Report | None = None
        self.children = [widgets.HBox([self.run_button, self.overfit_button, self.lr_button]),
                         self.status, self.output]
        self.add_class("nbviz-checklist")
        self.run_button.on_click(lambda _b: self.start("checks"))
        self.overfit_button.on_click(lambda _b: self.start("overfit"))
        self.lr_button.on_click(lambda _b: self.start("lr_range"))

    def start(self, what: str) -> bool:
        """Start ``checks``, ``overfit`` or ``lr_range`` in a worker; False if one is running."""
        if what not in ("checks", "overfit", "lr_range"):
            raise ValueError(f"unknown action {what!r}; use checks, overfit or lr_range")
        with self._lock:
            if self._busy:
                return False
            self._busy = True
            self._pending = (message_html(f"running {what} at the next batch boundary…"), "")
        started = time.perf_counter()

        def done(report: Report) -> None:
            report.seconds = time.perf_counter() - started
            self.last_report = report
            self._finish(message_html(report.headline()), report._repr_html_())

        def failed(exc: BaseException) -> None:
            self._finish(message_html(f"the checks could not run: {type(exc).__name__}: {exc}",
                                      "error"), "")

        # a thread asks, so a click returns at once even when the checks run right away (no
        # training loop active: they run in the asking thread)
        job = self._job(what)
        threading.Thread(target=lambda: self.ask(job, done, failed), name="nbviz-checklist",
                         daemon=True).start()
        self.poke()
        return True

    def _job(self, what: str) -> Callable[[], Report]:
        session = self.session
        loader, val_loader, fmt = _data(session)

        def job() -> Report:
            with preserved_rng([loader, val_loader]):
                ctx = build_context(session.model, loader, getattr(session, "loss_fn", None),
                                    session.optimizer, val_loader, None, fmt, 1024, 64)
                if what == "checks":
                    return run_checks(ctx)
                kept = [forward_checks.check_shapes(ctx), loss_checks.check_loss_call(ctx)]
                kept = [f for f in kept if f.flagged]  # why an experiment may be skipped
                finding = (experiments.overfit_one_batch(ctx, seconds=20.0) if what == "overfit"
                           else experiments.lr_range_test(ctx, seconds=20.0)[0])
                return Report([finding, *kept], model_name=type(session.model).__name__)

        return job

    def _finish(self, status: str, report: str) -> None:
        with self._lock:
            self._pending = (status, report)
            self._busy = False

    @property
    def busy(self) -> bool:
        return self._busy

    def refresh(self) -> None:
        self.deliver_answers()
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is None:
            return
        with self.hold_sync():
            self.status.value = pending[0]
            if pending[1]:
                self.output.value = pending[1]
