"""Live training curves: loss, accuracy and learning rate (bqplot, binary float32 buffers)."""

from __future__ import annotations

import time
from typing import Any

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from ..session.base import SessionBase
from .base import LiveView
from .charts import LineChart

TRAIN, VAL, EVENT = "#1f77b4", "#ff7f0e", "#7b1fa2"
MARKED_EVENTS = ("hyperparameter", "augmentation", "non_finite_loss", "error")
WAITING = "appears once training runs"
STEP_LINES = ("train_loss", "lr")  # logged every step: sent when they changed visibly
GROWTH = 0.005  # of the step axis: a line grown by less is not sent again (see _worth_sending)...
STALE = 2.0  # ...for up to this many seconds while training runs


def corners(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points of a line where its value changes, and its ends: the same line drawn, with
    a constant learning rate's thousands of points as 2 (the points dropped lie on straight
    segments between those kept)."""
    if len(y) <= 2:
        return x, y
    keep = np.ones(len(y), dtype=bool)
    keep[1:-1] = (y[1:-1] != y[:-2]) | (y[1:-1] != y[2:])
    return x[keep], y[keep]


class TrainingCurves(LiveView):
    """Train/validation loss and accuracy and the learning rate, updated as training runs.

    Changes of hyperparameters and augmentation are marked on the loss curve. Curves are
    sent as float32 buffers of at most the history's capacity, and only when they changed;
    scale domains are set explicitly (:mod:`nbviz.views.charts`), so a first update of one
    point or a constant learning rate draws correctly.
    """

    min_interval = 0.5

    def __init__(self, session: SessionBase) -> None:
        self.loss = LineChart("loss", "loss", empty_text=WAITING)
        steps = self.loss.x_scale  # one step scale: one message when the run outgrows it
        self.accuracy = LineChart("accuracy", "accuracy", y_range=(0.0, 1.0), y_format=".0%",
                                  empty_text=WAITING, x_scale=steps)
        self.lr = LineChart("learning rate", "lr", y_log=True, empty_text=WAITING, x_scale=steps)
        self.charts = {"train_loss": self.loss, "val_loss": self.loss, "train_accuracy": self.accuracy,
                       "val_accuracy": self.accuracy, "lr": self.lr}
        self.lines: dict[str, bq.Lines] = {
            "train_loss": self.loss.add_line("train_loss", TRAIN, "train"),
            "val_loss": self.loss.add_line("val_loss", VAL, "validation", markers=True),
            "train_accuracy": self.accuracy.add_line("train_accuracy", TRAIN, "train", markers=True),
            "val_accuracy": self.accuracy.add_line("val_accuracy", VAL, "validation", markers=True),
            "lr": self.lr.add_line("lr", TRAIN, "learning rate"),
        }
        self.events = self.loss.add_points("events", EVENT, "changes")
        self.event_notes = widgets.HTML()
        self._versions: dict[str, Any] = {}
        self._sent: dict[str, tuple[float, Any, float]] = {}  # line: (last x, values, when)
        super().__init__(session, children=[
            widgets.HBox([self.loss, self.accuracy, self.lr],
                         layout=widgets.Layout(flex_flow="row wrap", width="100%")),
            self.event_notes])
        self.add_class("nbviz-curves")

    def refresh(self) -> None:
        history = self.session.history
        updates: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        events = None
        with history.lock:
            for name in self.lines:
                series = history.series.get(name)
                version = None if series is None else series.version
                if version != self._versions.get(name):
                    self._versions[name] = version
                    updates[name] = series.arrays() if series is not None else (np.zeros(0), np.zeros(0))
            if history.events_version != self._versions.get("events"):  # rescanned only then
                self._versions["events"] = history.events_version
                events = [e for e in history.events if e.kind in MARKED_EVENTS]
        for name in STEP_LINES:
            if name in updates:
                x, y = updates[name]
                if name == "lr":
                    x, y = updates[name] = corners(x, y)
                if not self._worth_sending(name, x, y):
                    del updates[name]
                    self._versions[name] = "behind"  # look again at the next refresh
        for chart in (self.loss, self.accuracy, self.lr):
            mine = {name: xy for name, xy in updates.items() if self.charts[name] is chart}
            if mine:
                chart.update(mine)
        if events is not None and len(events) != self._versions.get("marked"):
            self._versions["marked"] = len(events)
            self._show_events(events)

    def _worth_sending(self, name: str, x: np.ndarray, y: np.ndarray) -> bool:
        """Whether a per-step line changed enough to be sent again (and if so, note it sent).

        While training runs, a line whose values only grew at its end by less than
        :data:`GROWTH` of the step axis (a pixel or so) waits, up to :data:`STALE` seconds:
        late in a run, half a second adds a sliver to the curve, and resending the whole
        line for it twice a second was most of this view's messages. A new learning rate,
        paused or ended training, and a run's first points are sent at once.
        """
        now = time.monotonic()
        sent = self._sent.get(name)
        values = (x[:-1].copy(), y.copy()) if name == "lr" else None  # lr: corners, a few
        if sent is not None and len(x) and self.session.state == "running":
            end, sent_values, at = sent
            span = float(self.loss.x_scale.max or 0.0) - float(self.loss.x_scale.min or 0.0)
            same = values is None or (sent_values is not None and all(
                np.array_equal(a, b) for a, b in zip(values, sent_values, strict=True)))
            if same and x[-1] - end < GROWTH * span and now - at < STALE:
                return False
        self._sent[name] = (float(x[-1]) if len(x) else -np.inf, values, now)
        return True

    def _show_events(self, events: list[Any]) -> None:
        x_loss, y_loss = self.session.history.get("train_loss")
        steps = np.array([e.step for e in events], dtype=np.float32)
        if len(x_loss):
            heights = np.interp(steps, x_loss, y_loss).astype(np.float32)
        else:
            heights = np.zeros(len(steps), np.float32)
        self.loss.set_series("events", steps, heights)
        recent = "; ".join(f"step {e.step}: {e.description}" for e in events[-3:])
        self.event_notes.value = f"<small>changes — {recent}</small>" if recent else ""
