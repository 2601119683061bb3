"""ActivationStats view, live: mean, std and fraction of zeros of every layer; dead ReLUs flagged.

Statistics come from one probe-batch forward pass at a batch boundary
(:mod:`nbviz.probes.act_stats`), repeated while training runs at most every ``period``
seconds and never more than ``budget`` of the time, so the observer effect stays small.
"""

from __future__ import annotations

import html
import time
from concurrent.futures import Future

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from ..probes.act_stats import ActivationReport, request_activation_stats
from ..session.base import SessionBase
from .base import LiveView, message_html


def _bar_figure(title: str, y_label: str, bars: bq.Bars, x: bq.Scale, y: bq.Scale, fmt: str) -> bq.Figure:
    return bq.Figure(
        marks=[bars], title=title, animation_duration=0,
        axes=[bq.Axis(scale=x, label="layer (forward order)", tick_rotate=-40,
                      tick_style={"font-size": "9px"}),
              bq.Axis(scale=y, side="left", label=y_label, tick_format=fmt)],
        fig_margin={"top": 40, "bottom": 90, "left": 60, "right": 10},
        layout=widgets.Layout(width="50%", min_width="320px", height="320px"))


def table_html(report: ActivationReport) -> str:
    """One row per layer; flagged rows in red."""
    head = ("<tr><th>layer</th><th>type</th><th>output</th><th>mean</th><th>std</th>"
            "<th>zeros</th><th>dead units</th></tr>")
    rows = []
    for layer in report.layers:
        style = ' style="color:#b71c1c;font-weight:bold"' if layer.flagged else ""
        dead = f"{layer.dead_units}/{layer.units}" if layer.units else "-"
        rows.append(f"<tr{style}><td><code>{html.escape(layer.name)}</code></td>"
                    f"<td>{html.escape(layer.type)}</td><td>{'x'.join(map(str, layer.shape))}</td>"
                    f"<td>{layer.mean:.3g}</td><td>{layer.std:.3g}</td>"
                    f"<td>{layer.zero_fraction:.0%}</td><td>{dead}</td></tr>")
    return ('<div style="max-height:300px;overflow:auto"><table class="nbviz-act-table">'
            f"{head}{''.join(rows)}</table></div>")


class ActivationStats(LiveView):
    """Per-layer activation statistics on the probe batch, refreshed while training runs.

    Args:
        session: a TrainingSession or nbviz.watch(...) run (with probe data).
        probe_size: probe samples per pass.
        period: seconds between two passes at least.
        budget: largest share of wall time the passes may take (0 < budget < 1).
    """

    min_interval = 0.5

    def __init__(self, session: SessionBase, probe_size: int = 64, period: float = 2.0,
                 budget: float = 0.02) -> None:
        if isinstance(probe_size, bool) or not isinstance(probe_size, int) or probe_size < 1:
            raise ValueError(f"probe_size must be a whole number >= 1, got {probe_size!r}")
        if not isinstance(period, (int, float)) or period < 0:
            raise ValueError(f"period must be a number of seconds >= 0, got {period!r}")
        if not isinstance(budget, (int, float)) or not 0 < budget < 1:
            raise ValueError(f"budget must be a fraction between 0 and 1, got {budget!r}")
        self.probe_size, self.period, self.budget = probe_size, float(period), float(budget)
        self.report: ActivationReport | None = None
        self.message = widgets.HTML(message_html("Computing activation statistics...", "info"))
        self.flags = widgets.HTML()
        self.table = widgets.HTML()
        sx, sy, zx, zy = bq.OrdinalScale(), bq.LinearScale(min=0.0), bq.OrdinalScale(), \
            bq.LinearScale(min=0.0, max=1.0)
        tip = bq.Tooltip(fields=["x", "y"], formats=["", ".3g"])
        self.std_bars = bq.Bars(x=np.array(["-"]), y=np.zeros(1, np.float32), scales={"x": sx, "y": sy},
                                colors=["#1f77b4"], tooltip=tip)
        self.mean_dots = bq.Scatter(x=np.array(["-"]), y=np.zeros(1, np.float32),
                                    scales={"x": sx, "y": sy}, colors=["#ff7f0e"], default_size=20,
                                    labels=["mean"], display_legend=True)
        self.zero_bars = bq.Bars(x=np.array(["-"]), y=np.zeros(1, np.float32), scales={"x": zx, "y": zy},
                                 color=np.zeros(1, np.float32), tooltip=tip)
        self.zero_bars.scales = {"x": zx, "y": zy,
                                 "color": bq.ColorScale(colors=["#757575", "#d32f2f"], min=0.0, max=1.0)}
        figures = [_bar_figure("std (bars) and mean (dots)", "value", self.std_bars, sx, sy, ".2g"),
                   _bar_figure("fraction of zeros (red: dead ReLUs flagged)", "zeros",
                               self.zero_bars, zx, zy, ".0%")]
        figures[0].marks = [self.std_bars, self.mean_dots]
        self._future: Future | None = None
        self._started = 0.0
        self._next = 0.0
        self._step = -1
        self.cost = 0.0  # seconds the last pass took
        super().__init__(session, children=[self.message, self.flags,
                                            widgets.HBox(figures, layout=widgets.Layout(flex_flow="row wrap")),
                                            self.table])
        self.add_class("nbviz-activations")

    def refresh(self) -> None:
        future = self._future
        if future is None:
            now = time.monotonic()
            if now >= self._next and self.session.step_count != self._step:
                self._step = self.session.step_count
                self._started = now
                try:
                    self._future = request_activation_stats(self.session, self.probe_size)
                except ValueError as exc:  # no probe data
                    self.message.value = message_html(str(exc), "error")
                    self._next = float("inf")
                    return
            future = self._future
        if future is None or not future.done():
            return
        self._future = None
        self.cost = time.monotonic() - self._started
        self._next = time.monotonic() + max(self.period, self.cost / self.budget)
        try:
            report = future.result()
        except RuntimeError as exc:
            self.message.value = message_html(str(exc), "error")
            return
        self.show(report)

    def show(self, report: ActivationReport) -> None:
        """Put ``report`` on screen (pump thread only)."""
        self.report = report
        if not report.layers:
            self.message.value = message_html("No layer produced a tensor output to measure.", "warning")
            return
        names = np.array([layer.name for layer in report.layers])
        flagged = report.flagged()
        with self.std_bars.hold_sync(), self.mean_dots.hold_sync(), self.zero_bars.hold_sync():
            with self.std_bars.hold_trait_notifications(), self.mean_dots.hold_trait_notifications(), \
                    self.zero_bars.hold_trait_notifications():
                self.std_bars.x = names
                self.std_bars.y = np.array([layer.std for layer in report.layers], np.float32)
                self.mean_dots.x = names
                self.mean_dots.y = np.array([layer.mean for layer in report.layers], np.float32)
                self.zero_bars.x = names
                self.zero_bars.y = np.array([layer.zero_fraction for layer in report.layers], np.float32)
                self.zero_bars.color = np.array([layer.flagged for layer in report.layers], np.float32)
        if flagged:
            self.flags.value = "".join(message_html(layer.explanation(), "warning") for layer in flagged)
        else:
            self.flags.value = message_html("No dead ReLUs on the probe batch.", "info")
        self.table.value = table_html(report)
        self.message.value = message_html(
            f"{len(report.layers)} layers at step {report.step}, on {self.probe_size} probe samples "
            f"(the pass took {self.cost * 1000:.0f} ms at a batch boundary).", "info")
