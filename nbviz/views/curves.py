"""Live training curves: loss, accuracy and learning rate (bqplot, binary float32 buffers)."""

from __future__ import annotations

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
        super().__init__(session, children=[
            widgets.HBox([self.loss, self.accuracy, self.lr],
                         layout=widgets.Layout(flex_flow="row wrap", width="100%")),
            self.event_notes])
        self.add_class("nbviz-curves")

    def refresh(self) -> None:
        history = self.session.history
        updates: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        with history.lock:
            for name in self.lines:
                series = history.series.get(name)
                version = None if series is None else series.version
                if version != self._versions.get(name):
                    self._versions[name] = version
                    updates[name] = series.arrays() if series is not None else (np.zeros(0), np.zeros(0))
            events = [e for e in history.events if e.kind in MARKED_EVENTS]
        for chart in (self.loss, self.accuracy, self.lr):
            mine = {name: xy for name, xy in updates.items() if self.charts[name] is chart}
            if mine:
                chart.update(mine)
        if len(events) != self._versions.get("events"):
            self._versions["events"] = len(events)
            self._show_events(events)

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
