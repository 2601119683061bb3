"""Histograms of one parameter's weights or gradients over time, with a step slider (bqplot).

A heat map shows every kept snapshot (x: step, y: value, colour: share of values) on a
common value grid; a bar chart shows the histogram at the snapshot the slider picks, so
the user can look back at earlier steps. Data come from a :class:`ParamStats` ring, so
memory stays bounded however long the run.
"""

from __future__ import annotations

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from ..probes.param_stats import Histogram, ParamStats, Snapshot

GRID_BINS = 48


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
        self.param = widgets.Dropdown(options=stats.names(), description="parameter",
                                      layout=widgets.Layout(width="340px"))
        self.kind = widgets.ToggleButtons(options=["weights", "gradients"], value="weights")
        self.slider = widgets.IntSlider(0, min=0, max=0, description="snapshot",
                                        continuous_update=True, layout=widgets.Layout(width="420px"))
        self.step_label = widgets.Label("no snapshot yet: they appear while training runs")
        x, y = bq.LinearScale(), bq.LinearScale()
        colour = bq.ColorScale(scheme="viridis")
        self.heat = bq.GridHeatMap(color=np.zeros((2, 2), np.float32), row=np.zeros(2, np.float32),
                                   column=np.arange(2, dtype=np.float32),
                                   scales={"row": y, "column": x, "color": colour},
                                   row_align="start", column_align="start", stroke="transparent")
        self.cursor = bq.Lines(x=np.zeros(2, np.float32), y=np.zeros(2, np.float32),
                               scales={"x": x, "y": y}, colors=["#ff5252"], stroke_width=2)
        over_time = bq.Figure(
            marks=[self.heat, self.cursor], title="over time (colour: sqrt of share of values)",
            axes=[bq.Axis(scale=x, label="step", num_ticks=5),
                  bq.Axis(scale=y, side="left", label="value", tick_format=".2g")],
            fig_margin={"top": 40, "bottom": 40, "left": 60, "right": 10},
            layout=widgets.Layout(width="50%", min_width="300px", height="300px"), animation_duration=0)
        bx, by = bq.LinearScale(), bq.LinearScale(min=0.0)
        self.bars = bq.Bars(x=np.zeros(1, np.float32), y=np.zeros(1, np.float32),
                            scales={"x": bx, "y": by}, colors=["#1f77b4"], padding=0.05)
        at_step = bq.Figure(
            marks=[self.bars], title="at the selected snapshot",
            axes=[bq.Axis(scale=bx, label="value", tick_format=".2g", num_ticks=5),
                  bq.Axis(scale=by, side="left", label="share", tick_format=".0%")],
            fig_margin={"top": 40, "bottom": 40, "left": 55, "right": 10},
            layout=widgets.Layout(width="50%", min_width="300px", height="300px"), animation_duration=0)
        self._key: tuple | None = None
        self._follow = True
        self.slider.observe(self._on_slider, "value")
        super().__init__([widgets.HBox([self.param, self.kind]),
                          widgets.HBox([self.slider, self.step_label]),
                          widgets.HBox([over_time, at_step], layout=widgets.Layout(flex_flow="row wrap"))])

    def _on_slider(self, change: dict) -> None:
        # the user looks back when they move away from the newest snapshot
        self._follow = change["new"] >= self.slider.max

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
        hists = [self._hist(s) for s in snapshots]
        pairs = [(s, h) for s, h in zip(snapshots, hists, strict=True) if h is not None]
        if not pairs:
            self.step_label.value = f"{self.param.value} has no gradient recorded"
            return
        snaps, hists = [p[0] for p in pairs], [p[1] for p in pairs]
        edges, matrix = common_grid(hists)
        steps = np.array([s.step for s in snaps], np.float32)
        last = len(snaps) - 1
        index = last if self._follow else min(self.slider.value, last)
        columns = steps if last else np.array([steps[0], steps[0] + 1], np.float32)
        if not last:  # bqplot squeezes a one-column matrix: show the one snapshot twice as wide
            matrix = np.repeat(matrix, 2, axis=1)
        selected = hists[index]
        centres = ((selected.edges[:-1] + selected.edges[1:]) / 2).astype(np.float32)
        shares = selected.counts / max(selected.counts.sum(), 1)
        step = snaps[index].step
        with self.heat.hold_sync(), self.cursor.hold_sync(), self.bars.hold_sync(), \
                self.slider.hold_sync():
            with self.heat.hold_trait_notifications():  # row, column and colour change shape together
                self.heat.row = edges[:-1].astype(np.float32)
                self.heat.column = columns
                self.heat.color = np.sqrt(matrix).astype(np.float32)
            self.cursor.x = np.array([step, step], np.float32)
            self.cursor.y = np.array([edges[0], edges[-1]], np.float32)
            self.bars.x = centres
            self.bars.y = shares.astype(np.float32)
            self.slider.max = last
            self.slider.value = index
        extra = f", {selected.nonfinite} non-finite" if selected.nonfinite else ""
        self.step_label.value = f"step {step} ({index + 1} of {len(snaps)} kept{extra})"
        self._key = (self.stats.version, self.param.value, self.kind.value, self.slider.value)

    def _hist(self, snapshot: Snapshot) -> Histogram | None:
        record = snapshot.params[self.param.value]
        return record.weight if self.kind.value == "weights" else record.grad
