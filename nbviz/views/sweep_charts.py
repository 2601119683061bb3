"""The sweep view's charts: parallel coordinates and every trial's curve (pump thread only)."""

from __future__ import annotations

import contextlib
import math
from typing import Any

import bqplot as bq
import ipywidgets as widgets
import numpy as np
import optuna.distributions as od

from ..sweep.records import TrialRecord
from .charts import (
    figure,
    keeps,
    linear_domain,
    linear_ticks,
    scale,
    set_domain,
    set_ticks,
    step_domain,
)

BEST, PRUNED, FAILED, RUNNING, DONE = "#d62728", "#9e9e9e", "#ff9800", "#1f77b4", "#90caf9"
SHORT_CURVE = 5  # curves of at most this many points show their points as dots


def shade(t: float) -> str:
    """Light (t=0, worst) to dark blue (t=1, best)."""
    lo, hi = np.array([0xbb, 0xde, 0xfb]), np.array([0x0d, 0x47, 0xa1])
    r, g, b = (lo + (hi - lo) * min(max(t, 0.0), 1.0)).astype(int)
    return f"#{r:02x}{g:02x}{b:02x}"


def position(dist: od.BaseDistribution, value: Any) -> float:
    """Where ``value`` sits on its parameter's axis, 0 (low) to 1 (high)."""
    if isinstance(dist, od.CategoricalDistribution):
        n = len(dist.choices)
        index = next((i for i, c in enumerate(dist.choices) if c == value), 0)
        return 0.5 if n == 1 else index / (n - 1)
    lo, hi = float(dist.low), float(dist.high)  # type: ignore[attr-defined]
    v = float(value)
    if dist.log:  # type: ignore[attr-defined]
        lo, hi, v = math.log(lo), math.log(hi), math.log(max(v, 1e-300))
    return 0.5 if hi <= lo else (v - lo) / (hi - lo)


def axis_note(name: str, dist: od.BaseDistribution) -> str:
    if isinstance(dist, od.CategoricalDistribution):
        return f"{name}: {' < '.join(map(str, dist.choices))}"
    log = " (log)" if getattr(dist, "log", False) else ""
    return f"{name}: {dist.low:g} … {dist.high:g}{log}"  # type: ignore[attr-defined]


class ParallelCoordinates(widgets.VBox):
    """One line per finished trial through its parameters and its value (best in red)."""

    def __init__(self, space: dict[str, od.BaseDistribution], metric: str) -> None:
        self.space, self.metric = space, metric
        self.names = [*space, metric]
        self.x_scale = bq.OrdinalScale(domain=self.names)
        self.y_scale = scale(False, (-0.05, 1.05))
        x_axis = bq.Axis(scale=self.x_scale, side="bottom", grid_lines="solid")
        y_axis = bq.Axis(scale=self.y_scale, side="left", tick_values=np.array([0.0, 1.0]),
                         tick_format=".0f", label="low → high")
        self.lines = bq.Lines(x=np.array(self.names), y=np.zeros((0, len(self.names)), np.float32),
                              scales={"x": self.x_scale, "y": self.y_scale}, colors=[DONE], stroke_width=1.5)
        self.best = bq.Lines(x=np.array(self.names), y=np.zeros(0, np.float32),
                             scales={"x": self.x_scale, "y": self.y_scale}, colors=[BEST], stroke_width=3)
        self.figure = figure("Parameters vs objective (no finished trials yet)", [self.lines, self.best],
                             [x_axis, y_axis], height="300px")
        self.note = widgets.HTML()
        self.count = 0
        super().__init__([self.figure, self.note], layout=widgets.Layout(width="50%", min_width="320px"))
        self.add_class("nbviz-chart")

    def update(self, trials: list[TrialRecord], best: TrialRecord | None, minimize: bool) -> None:
        done = [t for t in trials if t.value is not None and math.isfinite(t.value) and t.params]
        values = np.array([t.value for t in done], np.float64)
        lo, hi = (float(values.min()), float(values.max())) if done else (0.0, 1.0)
        rows, colours = [], []
        for trial, value in zip(done, values, strict=True):
            t = 0.5 if hi <= lo else (value - lo) / (hi - lo)
            rank = 1 - t if minimize else t
            rows.append([position(self.space[n], trial.params.get(n)) for n in self.space] + [t])
            colours.append(PRUNED if trial.state in ("pruned", "stopped") else shade(rank))
        notes = [axis_note(n, d) for n, d in self.space.items()]
        notes.append(f"{self.metric}: {lo:.4g} … {hi:.4g}" if done else f"{self.metric}: no value yet")
        text = ('<div style="font-size:12px;color:#555">' + " · ".join(notes) +
                f' · <span style="color:{PRUNED}">grey: pruned/stopped</span>'
                f' · <span style="color:{BEST}">red: best</span></div>')
        with self.figure.hold_sync():
            self.figure.title = f"Parameters vs {self.metric} ({len(done)} trials)" if done else \
                "Parameters vs objective (no finished trials yet)"
            if self.note.value != text:
                self.note.value = text
        with self.lines.hold_sync():
            self.lines.colors = colours or [DONE]
            self.lines.y = np.array(rows, np.float32).reshape(len(rows), len(self.names))
        best_row = next((r for r, t in zip(rows, done, strict=True) if best is not None and t.number == best.number), None)
        self.best.y = np.array(best_row if best_row is not None else [], np.float32)
        self.count = len(rows)


class TrialCurves(widgets.VBox):
    """Every trial's curve of one metric on one chart: best red and thick, pruned grey and
    dashed with a cross at the end, failed orange, running blue."""

    def __init__(self) -> None:
        self.x_scale = scale()
        self.y_scale = scale()
        self.x_axis = bq.Axis(scale=self.x_scale, label="step", side="bottom", tick_format="~s", num_ticks=6)
        self.y_axis = bq.Axis(scale=self.y_scale, side="left", grid_lines="dashed", tick_format=".3~g")
        self.ends = bq.Scatter(x=np.zeros(0, np.float32), y=np.zeros(0, np.float32), marker="cross",
                               colors=[PRUNED], default_size=40, scales={"x": self.x_scale, "y": self.y_scale})
        self.marks: dict[int, bq.Lines] = {}
        self.drawn: dict[int, tuple[int, str]] = {}
        self.figure = figure("Trial curves (no data yet)", [self.ends], [self.x_axis, self.y_axis], height="300px")
        super().__init__([self.figure], layout=widgets.Layout(width="50%", min_width="320px"))
        self.add_class("nbviz-chart")

    def _style(self, trial: TrialRecord, best: TrialRecord | None) -> str:
        if best is not None and trial.number == best.number:
            return "best"
        return {"pruned": "pruned", "stopped": "pruned", "failed": "failed",
                "running": "running"}.get(trial.state, "done")

    def update(self, trials: list[TrialRecord], best: TrialRecord | None, metric: str,
               lock: Any = None) -> int:
        """Draw ``metric`` of every trial (copied under ``lock``, the records' lock); returns
        the number of curves drawn."""
        data = {}
        with lock if lock is not None else contextlib.nullcontext():
            for trial in trials:
                series = trial.curves.get(metric)
                if series is not None and len(series):
                    data[trial.number] = (trial, series.arrays(), series.version)
        xs = [d[1][0] for d in data.values()]
        ys = [d[1][1] for d in data.values()]
        if not data:
            self.figure.title = f"{metric} per trial (no data yet)"
            return 0
        with self.figure.hold_sync():
            self.figure.title = f"{metric} per trial"
            x_lo, x_hi = step_domain(xs)
            if not keeps((self.x_scale.min, self.x_scale.max), [*xs, np.zeros(1)], fill=0.5):
                set_domain(self.x_scale, x_lo, x_hi)
            if not keeps((self.y_scale.min, self.y_scale.max), ys):
                lo, hi = linear_domain(ys)
                set_domain(self.y_scale, lo, hi)
                set_ticks(self.y_axis, linear_ticks(lo, hi))
        new_marks = []
        ends_x, ends_y = [], []
        for number, (trial, (x, y), version) in data.items():
            style = self._style(trial, best)
            if style == "pruned":
                ends_x.append(x[-1])
                ends_y.append(y[-1])
            mark = self.marks.get(number)
            if mark is None:
                mark = self.marks[number] = bq.Lines(x=np.zeros(0, np.float32), y=np.zeros(0, np.float32),
                                                     scales={"x": self.x_scale, "y": self.y_scale})
                new_marks.append(mark)
            if self.drawn.get(number) == (version, style):
                continue
            colour = {"best": BEST, "pruned": PRUNED, "failed": FAILED, "running": RUNNING}.get(style, DONE)
            with mark.hold_sync():
                mark.colors = [colour]
                mark.stroke_width = 3 if style == "best" else 1.5
                mark.line_style = "dashed" if style == "pruned" else "solid"
                mark.opacities = [1.0 if style in ("best", "running") else 0.8]
                # a curve of one or two points (a metric measured once per epoch, a short run)
                # is invisible as a line alone: mark its points
                mark.marker = "circle" if len(x) <= SHORT_CURVE else None
                mark.marker_size = 24
                mark.x, mark.y = x.astype(np.float32), y.astype(np.float32)
            self.drawn[number] = (version, style)
        for number in [n for n in self.marks if n not in data]:  # a retried trial starts over
            self.marks[number].x = self.marks[number].y = np.zeros(0, np.float32)
            self.drawn.pop(number, None)
        if new_marks:
            best_mark = self.marks.get(best.number) if best is not None else None
            order = [m for m in self.marks.values() if m is not best_mark]
            self.figure.marks = [*order, *([best_mark] if best_mark is not None else []), self.ends]
        ex, ey = np.array(ends_x, np.float32), np.array(ends_y, np.float32)
        if not (np.array_equal(ex, self.ends.x) and np.array_equal(ey, self.ends.y)):
            with self.ends.hold_sync():
                self.ends.x, self.ends.y = ex, ey
        return len(data)

    def reset(self) -> None:
        """Forget what was drawn (another metric chosen)."""
        for mark in self.marks.values():
            mark.x = mark.y = np.zeros(0, np.float32)
        self.drawn.clear()
