"""Live training curves: loss, accuracy and learning rate (bqplot, binary float32 buffers)."""

from __future__ import annotations

from typing import Any

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from ..session.base import SessionBase
from .base import LiveView

TRAIN, VAL, EVENT = "#1f77b4", "#ff7f0e", "#7b1fa2"
MARKED_EVENTS = ("hyperparameter", "augmentation", "non_finite_loss", "error")


def _figure(title: str, y_label: str, marks: list[bq.Mark], x: bq.Scale, y: bq.Scale) -> bq.Figure:
    axes = [bq.Axis(scale=x, label="step", side="bottom", grid_lines="none", num_ticks=5),
            bq.Axis(scale=y, label=y_label, side="left", grid_lines="dashed",
                    tick_format=".2g", num_ticks=5)]
    return bq.Figure(marks=marks, axes=axes, title=title, legend_location="top-right",
                     fig_margin={"top": 40, "bottom": 40, "left": 55, "right": 10},
                     layout=widgets.Layout(width="32%", min_width="240px", height="280px"),
                     animation_duration=0)


def _line(x: bq.Scale, y: bq.Scale, colour: str, label: str, markers: bool = False) -> bq.Lines:
    return bq.Lines(x=np.zeros(0, np.float32), y=np.zeros(0, np.float32),
                    scales={"x": x, "y": y}, colors=[colour], labels=[label], display_legend=True,
                    marker="circle" if markers else None, marker_size=24, stroke_width=2)


class TrainingCurves(LiveView):
    """Train/validation loss and accuracy and the learning rate, updated as training runs.

    Changes of hyperparameters and augmentation are marked on the loss curve. Curves are
    sent as float32 buffers of at most the history's capacity, and only when they changed.
    """

    min_interval = 0.5

    def __init__(self, session: SessionBase) -> None:
        step_scale = {name: bq.LinearScale() for name in ("loss", "acc", "lr")}
        loss_y, acc_y, lr_y = bq.LinearScale(), bq.LinearScale(min=0.0, max=1.0), bq.LogScale()
        self.lines: dict[str, bq.Lines] = {
            "train_loss": _line(step_scale["loss"], loss_y, TRAIN, "train"),
            "val_loss": _line(step_scale["loss"], loss_y, VAL, "validation", markers=True),
            "train_accuracy": _line(step_scale["acc"], acc_y, TRAIN, "train", markers=True),
            "val_accuracy": _line(step_scale["acc"], acc_y, VAL, "validation", markers=True),
            "lr": _line(step_scale["lr"], lr_y, TRAIN, "learning rate"),
        }
        self.events = bq.Scatter(x=np.zeros(0, np.float32), y=np.zeros(0, np.float32),
                                 scales={"x": step_scale["loss"], "y": loss_y}, colors=[EVENT],
                                 marker="triangle-down", default_size=80, labels=["changes"],
                                 display_legend=True)
        self.event_notes = widgets.HTML()
        figures = [
            _figure("loss", "loss", [self.lines["train_loss"], self.lines["val_loss"], self.events],
                    step_scale["loss"], loss_y),
            _figure("accuracy", "accuracy", [self.lines["train_accuracy"],
                                             self.lines["val_accuracy"]], step_scale["acc"], acc_y),
            _figure("learning rate", "lr", [self.lines["lr"]], step_scale["lr"], lr_y),
        ]
        self._versions: dict[str, Any] = {}
        super().__init__(session, children=[widgets.HBox(figures,
                                                         layout=widgets.Layout(flex_flow="row wrap")),
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
        for name, (x, y) in updates.items():
            line = self.lines[name]
            with line.hold_sync():
                line.x = x.astype(np.float32)
                line.y = y.astype(np.float32)
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
        with self.events.hold_sync():
            self.events.x = steps
            self.events.y = heights
        recent = "; ".join(f"step {e.step}: {e.description}" for e in events[-3:])
        self.event_notes.value = f"<small>changes — {recent}</small>" if recent else ""
