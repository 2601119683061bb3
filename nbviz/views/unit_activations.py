"""UnitActivations: the activation of every unit of a vector layer for one probe sample.

For layers whose output is a vector (Linear, Flatten, an MLP's hidden layers), one bar per
unit, captured at a batch boundary under the probe rules and refreshed while training runs.
Models with spatial layers show those in :class:`~nbviz.views.feature_maps.FeatureMaps`.

Example:
    >>> view = nbviz.UnitActivations(session, layer="fc1")
    >>> view.sample = 3
"""

from __future__ import annotations

from typing import Any

import bqplot as bq
import ipywidgets as widgets
import numpy as np
import torch
import traitlets

from ..probes.capture import DEFAULT_TIMEOUT
from ..widgets import guarded
from ..widgets.image_grid import ImageGrid
from .base import message_html
from .feature_maps import input_tile, labelled
from .links import ControlLink
from .probe_sample import ProbeSampleView, check_probe_size
from .sample_capture import SampleCapture

MAX_UNITS = 4096  # more bars than this would not be readable (nor cheap to draw)


class UnitActivations(ProbeSampleView):
    """Bars of a vector layer's units for one probe sample, next to the sample itself.

    Args:
        session: a TrainingSession or nbviz.watch() run.
        layer: dotted name of a layer with vector output (default: the last hidden one).
        probe_size: how many probe samples the sample slider offers.
        timeout: seconds after which a capture still waiting for the training thread is
            reported.

    Raises:
        ValueError: an unknown layer, a bad probe size, or a model without vector layers.
    """

    layer = traitlets.Unicode()

    min_interval = 0.25
    train_interval = 0.5

    def __init__(self, session: Any, layer: str | None = None, probe_size: int = 16,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        super().__init__(session)
        try:
            self._setup(layer, check_probe_size(probe_size), timeout)
        except BaseException:
            self.close()
            raise

    def _setup(self, layer: str | None, probe_size: int, timeout: float) -> None:
        self.timeout = timeout
        found = self.context.layers(timeout=timeout)
        self.layers = {info.name: info for info in found
                       if info.vector and 1 < info.output_shape[0] <= MAX_UNITS}
        if not self.layers:
            raise ValueError(f"{type(self.session.model).__name__} has no layer with a vector output "
                             f"of 2 to {MAX_UNITS} units to show")
        names = list(self.layers)
        start = layer if layer is not None else (names[-2] if len(names) > 1 else names[0])
        if start not in self.layers:
            raise ValueError(f"{start!r} is not a layer with vector output; choose one of: "
                             f"{', '.join(names[:12])}")
        self._take_probe(probe_size)
        self.set_trait("layer", start)
        self._capture = SampleCapture(self, self._inputs, self.train_interval)
        self._drawn: tuple | None = None
        self._build()
        self.observe(lambda _change: self.poke(), names=["layer", "sample"])

    def _build(self) -> None:
        self.layer_select = guarded.Dropdown(
            options=[(f"{name}  ({info.type}, {info.output_shape[0]} units)", name)
                     for name, info in self.layers.items()],
            value=self.layer, description="layer", layout=widgets.Layout(width="420px", max_width="100%"))
        self.sample_slider = self._sample_slider()
        lock = self.context.state_lock
        self._links = [ControlLink(self.layer_select, self, "layer", lock),
                       ControlLink(self.sample_slider, self, "sample", lock)]
        self.input_view = ImageGrid(tile_size=112, colormap="gray")
        x, y = bq.LinearScale(), bq.LinearScale()
        self.bars = bq.Bars(x=np.zeros(0, np.float32), y=np.zeros(0, np.float32), scales={"x": x, "y": y},
                            colors=["#1565c0"], padding=0.1)
        self.figure = bq.Figure(
            marks=[self.bars], axes=[bq.Axis(scale=x, label="unit", num_ticks=8, tick_format="d"),
                                     bq.Axis(scale=y, side="left", label="activation", tick_format=".2g")],
            layout=widgets.Layout(width="560px", max_width="100%", height="300px"),
            fig_margin={"top": 10, "bottom": 45, "left": 60, "right": 20}, animation_duration=0)
        self.status = widgets.HTML()
        self.add_class("nbviz-unit-activations")
        self.children = [widgets.HBox([self.layer_select, self.sample_slider],
                                      layout=widgets.Layout(flex_flow="row wrap")),
                         widgets.HBox([labelled("input", self.input_view), self.figure],
                                      layout=widgets.Layout(flex_flow="row wrap")),
                         self.status]

    @traitlets.validate("layer")
    def _valid_layer(self, proposal: traitlets.Bunch) -> str:
        if proposal["value"] not in self.layers:
            raise traitlets.TraitError(f"{proposal['value']!r} is not a vector layer this view shows")
        return proposal["value"]

    def refresh(self) -> None:
        self.deliver_answers()
        key = (self.layer, self.sample)
        capture = self._capture
        capture.update(key, self.layers[key[0]].calls)
        if capture.key != key or self._drawn == (key, capture.step):
            return
        self._drawn = (key, capture.step)
        if capture.value is None:
            self.status.value = message_html(capture.error, "error")
            return
        values = capture.value.to(torch.float32).reshape(-1).numpy().copy()
        lo, hi = float(min(values.min(), 0.0)), float(max(values.max(), 0.0))
        if hi <= lo:
            hi = lo + 1.0
        with self.hold_sync():
            tile = input_tile(self._inputs[key[1]])
            if tile is not None:
                self.input_view.set_tiles(tile, caption=f"sample {key[1]}")
            with self.bars.hold_sync():
                self.bars.scales["x"].min, self.bars.scales["x"].max = -0.5, len(values) - 0.5
                self.bars.scales["y"].min, self.bars.scales["y"].max = lo, hi
                self.bars.x = np.arange(len(values), dtype=np.float32)
                self.bars.y = values
            self.status.value = message_html(
                f"step {capture.step}: {key[0]}, {len(values)} units, "
                f"{int((values <= 0).sum())} at or below 0", "info")

    @property
    def captures(self) -> int:
        """Forward passes run so far (for tests and benches)."""
        return self._capture.captures

    def on_close(self) -> None:
        for link in getattr(self, "_links", []):
            link.unlink()


__all__ = ["UnitActivations"]
