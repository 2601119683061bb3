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
from ..probes.budget import TimeBudget
from ..session.base import SessionBase
from .base import LiveView, message_html
from .charts import BarChart


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
                 budget: float = 0.0025) -> None:
        if isinstance(probe_size, bool) or not isinstance(probe_size, int) or probe_size < 1:
            raise ValueError(f"probe_size must be a whole number >= 1, got {probe_size!r}")
        if not isinstance(period, (int, float)) or period < 0:
            raise ValueError(f"period must be a number of seconds >= 0, got {period!r}")
        if not isinstance(budget, (int, float)) or not 0 < budget < 1:
            raise ValueError(f"budget must be a fraction between 0 and 1, got {budget!r}")
        super().__init__(session)
        self.add_class("nbviz-activations")
        self.probe_size = probe_size
        self.report: ActivationReport | None = None
        self.message = widgets.HTML(message_html("Computing activation statistics...", "info"))
        self.flags = widgets.HTML()
        self.table = widgets.HTML()
        # rows, names on the left, first layer at the top: every layer name stays readable
        longest = max((len(name) for name, _ in self.session.model.named_modules()), default=0)
        self.std_chart = BarChart("std (bars) and mean (dots)", "value", x_label="layer (forward order)",
                                  empty_text="computing…", horizontal=True, label_chars=longest)
        self.zero_chart = BarChart("fraction of zeros (red: dead ReLUs)", "zeros",
                                   x_label="layer (forward order)", y_range=(0.0, 1.0), y_format=".0%",
                                   colours=("#757575", "#d32f2f"), empty_text="computing…", horizontal=True,
                                   label_chars=longest)
        self.std_bars, self.zero_bars = self.std_chart.bars, self.zero_chart.bars
        self.mean_dots = bq.Scatter(x=np.zeros(1, np.float32), y=np.array(["-"]),
                                    scales={"x": self.std_chart.y_scale, "y": self.std_chart.x_scale},
                                    colors=["#ff7f0e"], default_size=24, visible=False,
                                    tooltip=bq.Tooltip(fields=["y", "x"], formats=["", ".3g"]))
        self.std_chart.figure.marks = [self.std_bars, self.mean_dots]
        figures = [self.std_chart, self.zero_chart]
        self._future: Future | None = None
        self._started = 0.0
        self._timing = TimeBudget(float(period), float(budget), clock=time.monotonic)  # passes' spacing
        self._step = -1
        self._no_probe = False  # set when the run has no probe data: nothing to ask for
        self.children = [self.message, self.flags,
                         widgets.HBox(figures, layout=widgets.Layout(flex_flow="row wrap")), self.table]
        self.poke()

    def refresh(self) -> None:
        future = self._future
        if future is None:
            # while training runs the passes stay in budget; otherwise they slow nothing down
            due = self._timing.due() or self.session.state != "running"
            if due and self.session.step_count != self._step and not self._no_probe:
                self._step = self.session.step_count
                self._started = time.monotonic()
                try:
                    self._future = request_activation_stats(self.session, self.probe_size)
                except ValueError as exc:  # no probe data
                    self.message.value = message_html(str(exc), "error")
                    self._no_probe = True
                    return
            future = self._future
        if future is None or not future.done():
            return
        self._future = None
        self._timing.record(time.monotonic() - self._started)
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
        names = [layer.name for layer in report.layers]
        flagged = report.flagged()
        std = np.array([layer.std for layer in report.layers], np.float64)
        mean = np.array([layer.mean for layer in report.layers], np.float64)
        self.std_chart.set_bars(names, std, also=mean)
        lo, hi = float(self.std_chart.y_scale.min), float(self.std_chart.y_scale.max)
        with self.mean_dots.hold_sync(), self.mean_dots.hold_trait_notifications():
            self.mean_dots.y = self.std_chart.categories(self.std_chart.labels)
            self.mean_dots.x = self.std_chart.categories(np.clip(np.nan_to_num(mean, nan=lo), lo, hi)
                                                         .astype(np.float32))
            self.mean_dots.visible = True
        self.zero_chart.set_bars(names, np.array([layer.zero_fraction for layer in report.layers]),
                                 [layer.flagged for layer in report.layers])
        if flagged:
            self.flags.value = "".join(message_html(layer.explanation(), "warning") for layer in flagged)
        else:
            self.flags.value = message_html("No dead ReLUs on the probe batch.", "info")
        self.table.value = table_html(report)
        self.message.value = message_html(
            f"{len(report.layers)} layers at step {report.step}, on {self.probe_size} probe samples "
            f"(the pass took {self._timing.last_cost * 1000:.0f} ms at a batch boundary).", "info")
