"""GradientFlow view: per-layer gradient norm and update-to-weight ratio over time (bqplot).

Layers whose gradients vanish or explode, whose updates are too large, or that get no
gradient at all are flagged with a plain-language explanation and what to try
(:mod:`nbviz.probes.grad_health`). Data come from the run's shared ParamStats.
"""

from __future__ import annotations

import html

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from ..probes.grad_health import GradientFlag, diagnose
from ..session.base import SessionBase
from .base import LiveView, message_html
from .context import context_for

HEALTHY_RATIO = 1e-3
TINY, HUGE = 1e-12, 1e12
FLAG_COLOURS = {"vanishing": "#1565c0", "exploding": "#b71c1c", "large_update": "#e65100",
                "no_gradient": "#616161"}


def _log_safe(values: np.ndarray) -> np.ndarray:
    """Values a log scale can draw: NaN and <= 0 become TINY, inf becomes HUGE (float32)."""
    out = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=TINY, posinf=HUGE, neginf=TINY)
    return np.clip(out, TINY, HUGE).astype(np.float32)


def _figure(title: str, y_label: str, marks: list, x: bq.Scale, y: bq.Scale, x_label: str = "step",
            ordinal: bool = False) -> bq.Figure:
    x_axis = bq.Axis(scale=x, label=x_label, num_ticks=None if ordinal else 5,
                     tick_rotate=-35 if ordinal else 0, tick_style={"font-size": "9px"} if ordinal else {})
    return bq.Figure(marks=marks, title=title, animation_duration=0,
                     axes=[x_axis, bq.Axis(scale=y, side="left", label=y_label,
                                           tick_format=".0e")],
                     fig_margin={"top": 40, "bottom": 70 if ordinal else 40, "left": 65, "right": 10},
                     layout=widgets.Layout(width="50%", min_width="320px", height="300px"))


def flags_html(flags: list[GradientFlag], window: int) -> str:
    if not flags:
        return message_html(f"No vanishing or exploding gradients in the last {window} snapshots.")
    rows = "".join(
        f'<li><b style="color:{FLAG_COLOURS[f.kind]}">{html.escape(f.kind.replace("_", " "))}</b> '
        f"<code>{html.escape(f.name)}</code>: {html.escape(f.explanation)}<br>"
        f"<i>What to try:</i> {html.escape(f.advice)}</li>" for f in flags)
    return f'<div class="nbviz-grad-flags"><ul>{rows}</ul></div>'


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
        self.window = window
        self.stats = context_for(session).acquire_param_stats(self)
        self.all_params = widgets.Checkbox(False, description="biases and norm scales too",
                                           indent=False)
        self.message = widgets.HTML(message_html(
            "Gradients appear once training runs (sampled a few times a second).", "info"))
        self.flags = widgets.HTML()
        bx, by = bq.OrdinalScale(), bq.LogScale()
        self.bars = bq.Bars(x=np.array(["-"]), y=np.ones(1, np.float32), scales={"x": bx, "y": by},
                            color=np.zeros(1, np.float32), padding=0.15,
                            tooltip=bq.Tooltip(fields=["x", "y"], formats=["", ".3g"]))
        self.bars.scales = {"x": bx, "y": by, "color": bq.ColorScale(colors=["#1f77b4", "#d32f2f"],
                                                                     min=0.0, max=1.0)}
        nx, ny, rx, ry = bq.LinearScale(), bq.LogScale(), bq.LinearScale(), bq.LogScale()
        self.norm_lines = bq.Lines(x=np.zeros(0, np.float32), y=np.zeros(0, np.float32),
                                   scales={"x": nx, "y": ny}, stroke_width=1.5)
        self.ratio_lines = bq.Lines(x=np.zeros(0, np.float32), y=np.zeros(0, np.float32),
                                    scales={"x": rx, "y": ry}, stroke_width=1.5)
        self.healthy = bq.Lines(x=np.zeros(2, np.float32), y=np.full(2, HEALTHY_RATIO, np.float32),
                                scales={"x": rx, "y": ry}, colors=["#9e9e9e"], line_style="dashed",
                                labels=["healthy ~1e-3"], display_legend=True)
        figures = [
            _figure("gradient RMS per layer (latest; red: flagged)", "RMS gradient", [self.bars], bx, by,
                    x_label="layer (input → output)", ordinal=True),
            _figure("gradient norm over time", "‖grad‖", [self.norm_lines], nx, ny),
            _figure("update / weight per step", "‖Δw‖ / ‖w‖", [self.ratio_lines, self.healthy], rx, ry),
        ]
        self._key: tuple | None = None
        super().__init__(session, children=[self.message, self.flags, self.all_params,
                                            widgets.HBox(figures, layout=widgets.Layout(flex_flow="row wrap"))])
        self.add_class("nbviz-gradients")
        self.all_params.observe(lambda _change: self.poke(), "value")

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
        legend = len(names) <= 8
        with self.bars.hold_sync(), self.norm_lines.hold_sync(), self.ratio_lines.hold_sync(), \
                self.healthy.hold_sync():
            with self.bars.hold_trait_notifications():
                self.bars.x = np.array(names)
                self.bars.y = _log_safe(rms)
                self.bars.color = np.array([n in flagged for n in names], np.float32)
            for lines, values in ((self.norm_lines, norms), (self.ratio_lines, ratios)):
                lines.x = steps
                lines.y = _log_safe(values)
                lines.labels = names
                lines.display_legend = legend
            self.healthy.x = np.array([steps[0], steps[-1]], np.float32)
        self.flags.value = flags_html(flags, self.window)
        self.message.value = message_html(
            f"{len(snapshots)} snapshots kept, latest at step {latest.step}; "
            f"{len(names)} {'parameters' if self.all_params.value else 'layer weights'}. "
            "Hover a bar for its value.", "info")

    def on_close(self) -> None:
        self.context.release_param_stats(self)
