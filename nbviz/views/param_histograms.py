"""Histograms of one parameter's weights or gradients over time, with a step slider (bqplot).

A heat map shows every kept snapshot (x: step, y: value, colour: share of values) on a
common value grid; a bar chart shows the histogram at the snapshot the slider picks, so
the user can look back at earlier steps. Data come from a :class:`ParamStats` ring, so
memory stays bounded however long the run.
"""

from __future__ import annotations

import math
import time

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from ..probes.param_stats import Histogram, ParamStats, Snapshot
from ..widgets import guarded
from .charts import (
    MARGIN,
    figure,
    linear_domain,
    linear_ticks,
    nice_step,
    scale,
    set_domain,
    set_ticks,
)

GRID_BINS = 32
MAX_COLUMNS = 64  # heat-map columns at most: bqplot redraws every cell (an SVG rect) per update
HEAT_INTERVAL = 5.0  # seconds between two heat-map redraws while only new snapshots arrive


def thin(count: int, most: int = MAX_COLUMNS) -> np.ndarray:
    """Indices of at most ``most`` of ``count`` items, evenly spread, first and last kept."""
    if count <= most:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, most).round().astype(int))


def step_ticks(lo: float, hi: float) -> np.ndarray:
    """Whole, round step numbers from ``lo`` to ``hi``, 1, 2 or 5 times a power of ten apart,
    at least 4 where the span allows (bqplot's own ticks split the domain evenly: 1, 26.125,
    51.25, ...)."""
    values = np.zeros(0)
    for count in (5, 8, 12):
        step = max(1.0, nice_step(hi - lo, count))
        first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
        values = np.array([k * step for k in range(first, last + 1)], dtype=np.float64)
        if len(values) >= 4 or step == 1.0:
            break
    return values


def common_grid(hists: list[Histogram], bins: int = GRID_BINS) -> tuple[np.ndarray, np.ndarray]:
    """(bin edges, matrix bins x snapshots of value shares) on the union of the ranges."""
    lo = min(h.lo for h in hists)
    hi = max(h.hi for h in hists)
    if hi <= lo:
        hi = lo + 1e-12 if lo == 0 else lo + abs(lo) * 1e-6
    edges = np.linspace(lo, hi, bins + 1)
    matrix = np.stack([h.resample(lo, hi, bins) for h in hists], axis=1)
    return edges, matrix


class HistogramHistory(widgets.VBox):
    """The histogram panel of the Weights view; :meth:`update` is called from the pump thread."""

    def __init__(self, stats: ParamStats) -> None:
        self.stats = stats
        self.param = guarded.Dropdown(options=stats.names(), description="parameter",
                                      layout=widgets.Layout(width="340px"))
        self.kind = guarded.ToggleButtons(options=["weights", "gradients"], value="weights")
        self.slider = guarded.IntSlider(0, min=0, max=0, description="snapshot",
                                        continuous_update=True, layout=widgets.Layout(width="420px"))
        self.step_label = widgets.Label("no snapshot yet: they appear while training runs")
        x, y = scale(), scale()
        self.heat_x, self.heat_y = x, y
        colour = bq.ColorScale(scheme="viridis", min=0.0, max=1.0)
        self.heat = bq.GridHeatMap(color=np.zeros((2, 2), np.float32), row=np.arange(2, dtype=np.float32) / 2,
                                   column=np.arange(2, dtype=np.float32) / 2,
                                   scales={"row": y, "column": x, "color": colour},
                                   row_align="start", column_align="start", stroke="transparent",
                                   visible=False)
        # the selected snapshot: a marker on the top edge (a vertical line spans no width)
        self.cursor = bq.Scatter(x=np.zeros(1, np.float32), y=np.ones(1, np.float32),
                                 scales={"x": x, "y": y}, colors=["#ff1744"], marker="triangle-down",
                                 default_size=90, stroke="white")
        self.heat_x_axis = bq.Axis(scale=x, label="step", tick_format="~s", tick_values=step_ticks(0.0, 1.0))
        self.heat_y_axis = bq.Axis(scale=y, side="left", label="value", tick_format=".2g",
                                   tick_values=linear_ticks(0.0, 1.0))
        over_time = figure("over time (colour: share of values; ▼ selected)", [self.heat, self.cursor],
                           [self.heat_x_axis, self.heat_y_axis], height="300px", margin={**MARGIN, "left": 62})
        bx, by = scale(), scale()
        self.bars_x, self.bars_y = bx, by
        self.bars = bq.Bars(x=np.zeros(1, np.float32), y=np.zeros(1, np.float32),
                            scales={"x": bx, "y": by}, colors=["#1f77b4"], padding=0.05)
        self.bars_x_axis = bq.Axis(scale=bx, label="value", tick_format=".2g", tick_values=linear_ticks(0.0, 1.0))
        self.bars_y_axis = bq.Axis(scale=by, side="left", label="share", tick_format=".0%",
                                   tick_values=linear_ticks(0.0, 1.0))
        at_step = figure("at the selected snapshot", [self.bars], [self.bars_x_axis, self.bars_y_axis],
                         height="300px")
        self._key: tuple | None = None
        self._heat_key: tuple | None = None
        self._heat_at = -1e9
        self._follow = True
        self._newest = 0  # the slider index of the newest snapshot, as last shown
        self.slider.observe(self._on_slider, "value")
        self.param.observe(self._on_param, "value")
        self.kind.observe(self._on_param, "value")
        super().__init__([widgets.HBox([self.param, self.kind]),
                          widgets.HBox([self.slider, self.step_label]),
                          widgets.HBox([widgets.Box([over_time], layout=widgets.Layout(width="50%", min_width="300px")),
                                        widgets.Box([at_step], layout=widgets.Layout(width="50%", min_width="300px"))],
                                       layout=widgets.Layout(flex_flow="row wrap", width="100%"))])

    def _on_slider(self, change: dict) -> None:
        # the user looks back when they move away from the newest snapshot. Compared with the
        # newest index as the pump last showed it, not slider.max: when the pump lowers max
        # (another parameter with fewer snapshots) the value is clamped before max changes.
        self._follow = change["new"] >= self._newest

    def _on_param(self, _change: dict) -> None:
        self._follow = True  # another parameter or kind: show its newest snapshot

    def select_layer(self, layer: str) -> None:
        """Show ``layer``'s weight tensor when it has one (pump thread)."""
        name = f"{layer}.weight" if layer else ""
        if name in self.param.options and self.param.value != name:
            self.param.value = name

    def update(self) -> None:
        """Redraw when the data, parameter, kind or slider changed (pump thread only)."""
        key = (self.stats.version, self.param.value, self.kind.value, self.slider.value)
        if key == self._key:
            return
        self._key = key
        snapshots = [s for s in self.stats.snapshots() if self.param.value in s.params]
        if not snapshots:
            return
        found = [self._hist(s) for s in snapshots]
        pairs = [(s, h) for s, h in zip(snapshots, found, strict=True) if h is not None]
        if not pairs:
            self.step_label.value = f"{self.param.value} has no gradient recorded"
            return
        snaps = [p[0] for p in pairs]
        hists: list[Histogram] = [p[1] for p in pairs if p[1] is not None]
        last = len(snaps) - 1
        index = last if self._follow else min(self.slider.value, last)
        selected = hists[index]
        step = snaps[index].step
        lo = min(h.lo for h in hists)
        hi = max(h.hi for h in hists)
        v_lo, v_hi = linear_domain(np.array([lo, hi]))
        centres = ((selected.edges[:-1] + selected.edges[1:]) / 2).astype(np.float32)
        shares = (selected.counts / max(selected.counts.sum(), 1)).astype(np.float32)
        s_hi = linear_domain(np.append(shares, 0.0))[1]
        self._update_heat(snaps, hists, (v_lo, v_hi))
        self._newest = last
        if self.slider.max != last:  # its own message first: a value past the front end's old
            self.slider.max = last   # max is clamped there, and the handle stayed at 0
        with self.cursor.hold_sync(), self.bars.hold_sync():
            set_domain(self.bars_x, v_lo, v_hi)
            set_ticks(self.bars_x_axis, linear_ticks(v_lo, v_hi, 4))
            set_domain(self.bars_y, 0.0, s_hi)
            set_ticks(self.bars_y_axis, linear_ticks(0.0, s_hi, 4))
            self.cursor.x = np.array([step], np.float32)
            self.cursor.y = np.array([v_hi], np.float32)
            self.bars.x = centres
            self.bars.y = shares
        if self.slider.value != index:
            self.slider.value = index
        extra = f", {selected.nonfinite} non-finite" if selected.nonfinite else ""
        self.step_label.value = f"step {step} ({index + 1} of {len(snaps)} kept{extra})"
        self._key = (self.stats.version, self.param.value, self.kind.value, self.slider.value)

    def _update_heat(self, snaps: list[Snapshot], hists: list[Histogram], values: tuple[float, float]) -> None:
        """Redraw the over-time heat map: at once for another parameter or kind, else at most
        every HEAT_INTERVAL seconds, with at most MAX_COLUMNS x GRID_BINS cells."""
        key = (self.param.value, self.kind.value)
        now = time.monotonic()
        if key == self._heat_key and now - self._heat_at < HEAT_INTERVAL:
            return
        self._heat_key, self._heat_at = key, now
        keep = thin(len(snaps))
        snaps, hists = [snaps[i] for i in keep], [hists[i] for i in keep]
        v_lo, v_hi = values
        matrix = np.stack([h.resample(v_lo, v_hi, GRID_BINS) for h in hists], axis=1)
        edges = np.linspace(v_lo, v_hi, GRID_BINS + 1)
        steps = np.array([s.step for s in snaps], np.float64)
        width = float(np.median(np.diff(steps))) if len(steps) > 1 else 1.0
        columns = steps if len(steps) > 1 else np.array([steps[0], steps[0] + width])
        if len(steps) == 1:  # bqplot squeezes a one-column matrix: show the one snapshot twice
            matrix = np.repeat(matrix, 2, axis=1)
        peak = float(matrix.max()) or 1.0
        with self.heat.hold_sync(), self.heat.hold_trait_notifications():
            set_domain(self.heat_x, float(columns[0]), float(columns[-1] + width))
            set_ticks(self.heat_x_axis, step_ticks(float(columns[0]), float(columns[-1] + width)))
            set_domain(self.heat_y, v_lo, v_hi)
            set_ticks(self.heat_y_axis, linear_ticks(v_lo, v_hi, 4))
            self.heat.row = edges[:-1].astype(np.float32)
            self.heat.column = columns.astype(np.float32)
            self.heat.color = np.sqrt(matrix / peak).astype(np.float32)
            self.heat.visible = True

    def _hist(self, snapshot: Snapshot) -> Histogram | None:
        record = snapshot.params[self.param.value]
        return record.weight if self.kind.value == "weights" else record.grad
