"""GradientFlow view: per-layer gradient norm and update-to-weight ratio over time (bqplot).

Layers whose gradients vanish or explode, whose updates are too large, or that get no
gradient at all are flagged with a plain-language explanation and what to try
(:mod:`nbviz.probes.grad_health`). Data come from the run's shared ParamStats.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np

from ..probes.grad_health import GradientFlag, diagnose
from ..session.base import SessionBase
from ..widgets import guarded
from .base import LiveView, message_html
from .charts import BarChart, LineChart, short_labels

HEALTHY_RATIO = 1e-3
FLAG_COLOURS = {"vanishing": "#1565c0", "exploding": "#b71c1c", "large_update": "#e65100",
                "no_gradient": "#616161"}
KIND_ORDER = ("exploding", "no_gradient", "large_update", "vanishing")


def flags_html(flags: list[GradientFlag], window: int) -> str:
    """The diagnosis: per kind of problem, the layers with their numbers, then what to try once."""
    if not flags:
        return message_html(f"No vanishing or exploding gradients in the last {window} snapshots.")
    parts = []
    for kind in sorted({f.kind for f in flags}, key=KIND_ORDER.index):
        same = [f for f in flags if f.kind == kind]
        rows = "".join(f"<li><code>{html.escape(f.name)}</code>: {html.escape(f.explanation)}</li>"
                       for f in same)
        title = kind.replace("_", " ")
        parts.append(f'<p><b style="color:{FLAG_COLOURS[kind]}">{html.escape(title)}</b> '
                     f"({len(same)} {'layer' if len(same) == 1 else 'layers'})</p><ul>{rows}</ul>"
                     f"<p><i>What to try:</i> {html.escape(same[0].advice)}</p>")
    return f'<div class="nbviz-grad-flags">{"".join(parts)}</div>'


class GradientFlow(LiveView):
    """How gradients flow back through the layers, and how big each update is.

    Args:
        session: a TrainingSession or nbviz.watch(...) run.
        window: snapshots (the newest) a flag is judged on.

    Example:
        >>> nbviz.GradientFlow(session)
    """

    min_interval = 1.0

    def __init__(self, session: SessionBase, window: int = 5) -> None:
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be a whole number of snapshots >= 1, got {window!r}")
        super().__init__(session)
        self.add_class("nbviz-gradients")
        self.window = window
        self.stats = self.context.acquire_param_stats(self)
        self.all_params = guarded.Checkbox(False, description="biases and norm scales too",
                                           indent=False)
        self.message = widgets.HTML(message_html(
            "Gradients appear once training runs (sampled a few times a second).", "info"))
        self.flags = widgets.HTML()
        waiting = "appears once training runs"
        self.rms_chart = BarChart("gradient RMS per layer (latest; red: flagged)", "RMS gradient",
                                  x_label="layer (input → output)", y_log=True, empty_text=waiting)
        self.bars = self.rms_chart.bars
        self.norm_chart = LineChart("gradient norm over time", "‖grad‖", y_log=True,
                                    empty_text=waiting, width="50%", height="300px")
        self.ratio_chart = LineChart("update / weight per step", "‖Δw‖ / ‖w‖", y_log=True,
                                     empty_text=waiting, width="50%", height="300px")
        self.norm_lines = self.norm_chart.add_line("norms", "#1f77b4", "layers")
        self.ratio_lines = self.ratio_chart.add_line("ratios", "#1f77b4", "layers")
        self.healthy = self.ratio_chart.add_line("healthy", "#9e9e9e", "healthy ~1e-3", dashed=True)
        self._key: tuple | None = None
        self.children = [
            self.message, self.flags, self.all_params,
            widgets.HBox([self.rms_chart, self.norm_chart, self.ratio_chart],
                         layout=widgets.Layout(flex_flow="row wrap", width="100%"))]
        self.all_params.observe(lambda _change: self.poke(), "value")
        self.poke()

    def names(self) -> list[str]:
        return self.stats.names(weights_only=not self.all_params.value)

    def refresh(self) -> None:
        key = (self.stats.version, self.all_params.value)
        if key == self._key:
            return
        self._key = key
        snapshots = self.stats.snapshots()
        names = [n for n in self.names() if snapshots and n in snapshots[-1].params]
        if not snapshots or not names:
            return
        flags = diagnose(snapshots, names, window=self.window)
        flagged = {f.name for f in flags}
        latest = snapshots[-1]
        rms = np.array([latest.params[n].grad_norm / np.sqrt(max(latest.params[n].numel, 1))
                        for n in names])
        steps = np.array([s.step for s in snapshots], np.float32)
        norms = np.array([[s.params[n].grad_norm if n in s.params else np.nan for s in snapshots]
                          for n in names])
        ratios = np.array([[s.params[n].update_ratio if n in s.params else np.nan for s in snapshots]
                           for n in names])
        self.rms_chart.set_bars(names, rms, [n in flagged for n in names])
        labels = short_labels(names)
        self.norm_chart.set_lines("norms", steps, norms, labels)
        self.ratio_chart.set_lines("ratios", steps, ratios, labels)
        if steps[-1] > 0:  # the reference, from the start to the latest snapshot
            self.ratio_chart.set_series("healthy", np.array([0.0, steps[-1]]), np.full(2, HEALTHY_RATIO))
        self.flags.value = flags_html(flags, self.window)
        self.message.value = message_html(
            f"{len(snapshots)} snapshots kept, latest at step {latest.step}; "
            f"{len(names)} {'parameters' if self.all_params.value else 'layer weights'}. "
            "Hover a bar for its value.", "info")

    def on_close(self) -> None:
        self.context.release_param_stats(self)
