"""FeatureMaps: every channel of a layer's output for one probe image, live while training.

The layer's activations are captured for the selected probe sample with one forward pass at
a batch boundary (hooks only for that pass) and cached; switching channel, normalisation or
colormap never reruns the model. While training runs, the capture is repeated at most every
``train_interval`` seconds. Layers with vector output are shown by
:class:`~nbviz.views.unit_activations.UnitActivations`.

What is shown (layer, channel, sample, normalise, colormap) is held once, as validated
traits of the view; the controls are linked to them, and the run's shared selection follows.

Example:
    >>> view = nbviz.FeatureMaps(session, layer="layer1.0.conv1")
    >>> view.channel = 12          # or view.select(channel=12); the slider follows
"""

from __future__ import annotations

import threading
from typing import Any

import ipywidgets as widgets
import numpy as np
import torch
import traitlets

from ..probes.capture import DEFAULT_TIMEOUT, LayerInfo
from ..widgets import guarded
from ..widgets.canvas import COLORMAPS
from ..widgets.image_grid import ImageGrid
from ..widgets.images import image_tiles, to_uint8
from .base import message_html
from .links import ControlLink
from .probe_sample import ProbeSampleView, check_probe_size
from .sample_capture import SampleCapture

NORMALISATIONS = ("channel", "layer")


def input_tile(image: torch.Tensor) -> np.ndarray | None:
    """One probe input as a uint8 tile (1 x H x W, or 1 x H x W x 3 for colour), or None."""
    return image_tiles(image.unsqueeze(0), per_tile=True)


def default_layer(layers: list[LayerInfo]) -> str:
    """The first convolution's output, else the first layer."""
    for layer in layers:
        if "Conv" in layer.type:
            return layer.name
    return layers[0].name


def labelled(title: str, widget: widgets.Widget) -> widgets.VBox:
    return widgets.VBox([widgets.HTML(f"<b>{title}</b>"), widget])


class FeatureMaps(ProbeSampleView):
    """Feature maps of one layer for one probe image: input, selected channel, all channels.

    Args:
        session: a TrainingSession or nbviz.watch() run.
        layer: dotted name of the layer to show first (default: the shared selection, else
            the first convolution).
        probe_size: how many probe images the sample selector offers.
        colormap: one of :data:`~nbviz.widgets.canvas.COLORMAPS`.
        normalise: "channel" (each tile over its own range) or "layer" (one range for all
            channels, so they can be compared).
        tile_size: display size in pixels of one channel tile.
        timeout: seconds after which a capture still waiting for the training thread's
            next batch boundary is reported.

    Raises:
        ValueError: for an unknown layer, colormap or normalisation, a bad probe size, or a
            model without a layer of spatial (C x H x W) output.
    """

    layer = traitlets.Unicode()
    channel = traitlets.Int(0)
    normalise = traitlets.Enum(NORMALISATIONS, default_value="channel")
    colormap = traitlets.Enum(COLORMAPS, default_value="viridis")

    min_interval = 0.5  # polling for training progress; clicks and captures poke at once
    train_interval = 0.5  # seconds between captures driven by training progress

    def __init__(self, session: Any, layer: str | None = None, probe_size: int = 16,
                 colormap: str = "viridis", normalise: str = "channel", tile_size: int = 48,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        super().__init__(session)
        try:
            self._setup(layer, check_probe_size(probe_size), colormap, normalise, tile_size, timeout)
        except BaseException:
            self.close()  # nothing half-built stays live
            raise

    # ---- set-up ----------------------------------------------------------------------------
    def _setup(self, layer: str | None, probe_size: int, colormap: str, normalise: str,
               tile_size: int, timeout: float) -> None:
        if colormap not in COLORMAPS:
            raise ValueError(f"unknown colormap {colormap!r}; use one of {', '.join(COLORMAPS)}")
        if normalise not in NORMALISATIONS:
            raise ValueError(f"normalise must be 'channel' or 'layer', got {normalise!r}")
        self.timeout = timeout
        all_layers = self.context.layers(timeout=timeout)
        self.layers = {info.name: info for info in all_layers if info.spatial}
        self._failure = self.context.forward_failure
        if not self.layers and self._failure:
            raise ValueError(f"the model's forward pass fails before any layer with a spatial "
                             f"output ran: {self._failure}")
        if not self.layers:
            raise ValueError(
                f"{type(self.session.model).__name__} has no layer with a spatial (channels x height "
                "x width) output, so there are no feature maps to draw; nbviz.UnitActivations(session) "
                "shows the activations of its vector layers")
        self.selection = self.context.selection
        start = layer if layer is not None else (
            self.selection.layer if self.selection.layer in self.layers
            else default_layer(list(self.layers.values())))
        if start not in self.layers:
            raise ValueError(f"{start!r} is not a layer with spatial output of "
                             f"{type(self.session.model).__name__}; choose one of: "
                             f"{', '.join(list(self.layers)[:12])}")
        self._take_probe(probe_size)
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()
        self._note = ""
        self._capture = SampleCapture(self, self._inputs, self.train_interval)
        self._tiles: np.ndarray | None = None
        self._tiles_key: tuple | None = None
        self._sent: dict[str, Any] = {}
        self.set_trait("layer", start)
        self.channel = min(self.selection.channel, max(self.layers[start].channels - 1, 0))
        self.normalise, self.colormap = normalise, colormap
        self._build(tile_size)
        self.observe(self._on_state, names=["layer", "channel", "sample", "normalise", "colormap"])
        self.selection.observe(self._on_selection, names=["layer", "channel", "sample"])
        self._publish()

    def _build(self, tile_size: int) -> None:
        options = [(f"{name}  ({info.type}, {'x'.join(map(str, info.output_shape))})", name)
                   for name, info in self.layers.items()]
        self.layer_select = guarded.Dropdown(options=options, value=self.layer, description="layer",
                                             layout=widgets.Layout(width="420px", max_width="100%"))
        self.channel_slider = guarded.IntSlider(value=self.channel, min=0,
                                                max=max(self.layers[self.layer].channels - 1, 0),
                                                description="channel", continuous_update=True)
        self.sample_slider = self._sample_slider()
        self.normalise_toggle = guarded.ToggleButtons(
            options=[("per channel", "channel"), ("per layer", "layer")], value=self.normalise,
            description="scale", style={"button_width": "110px"})
        self.colormap_select = guarded.Dropdown(options=list(COLORMAPS), value=self.colormap,
                                                description="colormap", layout=widgets.Layout(width="200px"))
        # the view's traits hold the state; the controls are linked to them (validation on
        # the view's side: a refused value puts the control back)
        lock = self.context.state_lock
        self._links = [ControlLink(control, self, name, lock) for control, name in (
            (self.layer_select, "layer"), (self.channel_slider, "channel"),
            (self.sample_slider, "sample"), (self.normalise_toggle, "normalise"),
            (self.colormap_select, "colormap"))]
        self.input_view = ImageGrid(tile_size=112, colormap="gray")
        self.channel_view = ImageGrid(tile_size=112, colormap=self.colormap)
        self.grid = ImageGrid(tile_size=tile_size, colormap=self.colormap)
        self.grid.on_click(lambda index: None if self.select(channel=index) else None)
        self.status = widgets.HTML()
        self.add_class("nbviz-feature-maps")
        for widget, name in ((self.grid, "grid"), (self.channel_view, "channel"), (self.input_view, "input"),
                             (self.layer_select, "layer"), (self.channel_slider, "channel-slider"),
                             (self.sample_slider, "sample-slider")):
            widget.add_class(f"nbviz-fm-{name}")
        wrap = widgets.Layout(flex_flow="row wrap")
        controls = widgets.VBox([
            widgets.HBox([self.layer_select, self.colormap_select], layout=wrap),
            widgets.HBox([self.channel_slider, self.sample_slider], layout=wrap),
            self.normalise_toggle])
        pictures = widgets.HBox([labelled("input", self.input_view),
                                 labelled("selected channel", self.channel_view)], layout=wrap)
        self.children = [controls, pictures, self.grid, self.status]

    # ---- state (any thread): validated traits --------------------------------------------------
    @traitlets.validate("layer")
    def _valid_layer(self, proposal: traitlets.Bunch) -> str:
        value = proposal["value"]
        if value not in self.layers:
            raise traitlets.TraitError(f"{value!r} is not a layer this view can show")
        return value

    @traitlets.validate("channel")
    def _valid_channel(self, proposal: traitlets.Bunch) -> int:
        value, high = proposal["value"], self.layers[self.layer].channels - 1
        if not 0 <= value <= high:
            raise traitlets.TraitError(f"channel {value!r} is outside 0..{high}")
        return value

    def select(self, layer: str | None = None, channel: int | None = None, sample: int | None = None,
               normalise: str | None = None, colormap: str | None = None) -> bool:
        """Change what is shown; invalid values are refused (the old one is kept, the view
        says why). Safe from any thread. Returns True if every given value was accepted."""
        wanted = {"layer": layer, "sample": sample, "normalise": normalise, "colormap": colormap,
                  "channel": channel}
        ok = True
        with self.context.state_lock:
            ok = self._select(wanted)
        self._dirty()
        return ok

    def _select(self, wanted: dict[str, Any]) -> bool:
        ok = True
        for name, value in wanted.items():
            if value is None:
                continue
            if name in ("channel", "sample") and (isinstance(value, bool) or not isinstance(value, int)):
                ok, self._note = False, f"{name} must be a whole number, got {value!r}; kept {getattr(self, name)}."
                continue
            try:
                setattr(self, name, value)
            except traitlets.TraitError as exc:
                ok, self._note = False, f"{exc}; kept {getattr(self, name)!r}."
        if ok and any(v is not None for v in wanted.values()):
            self._note = ""
        return ok

    def _on_state(self, change: dict[str, Any]) -> None:
        with self.context.state_lock:
            if change["name"] == "layer":
                high = max(self.layers[self.layer].channels - 1, 0)
                if self.channel > high:
                    self.channel = high
                self.channel_slider.max = high
            self._publish()
        self._dirty()

    def _dirty(self) -> None:
        with self._lock:
            self._sent.pop("drawn", None)
        self.poke()

    def _publish(self) -> None:
        """Tell the other views of this run what is selected here."""
        self.selection.layer, self.selection.channel = self.layer, self.channel
        self.selection.sample = self.sample

    def _on_selection(self, change: dict[str, Any]) -> None:
        name, value = change["name"], change["new"]
        with self.context.state_lock:
            self._follow(name, value)

    def _follow(self, name: str, value: Any) -> None:
        if value == getattr(self, name):
            return
        if name == "layer" and value not in self.layers:
            self._note = f"{value!r} has no spatial output; feature maps keep showing {self.layer!r}."
            self._dirty()
            return
        try:
            setattr(self, name, value)
        except traitlets.TraitError:
            pass  # a channel or sample this layer or probe batch does not have

    # ---- the pump --------------------------------------------------------------------------
    def refresh(self, wait: bool = False) -> None:
        """Capture if needed, then send what changed (pump thread).

        Args:
            wait: block until a refresh running in another thread is done (tests,
                benches); the pump never waits.
        """
        if self.closed or not self._refreshing.acquire(blocking=wait):
            return
        try:
            self.deliver_answers()
            self._refresh()
        finally:
            self._refreshing.release()

    def _refresh(self) -> None:
        layer, channel, sample = self.layer, self.channel, self.sample
        key = (layer, sample)
        capture = self._capture
        capture.timing.min_interval = self.train_interval
        capture.update(key, self.layers[layer].calls)
        if capture.waiting_longer_than(self.timeout):
            self._show_status(f"waiting for the training thread to reach a batch boundary to "
                              f"capture {layer!r}", "warning")
        state = (capture.key, capture.step, channel, self.normalise, self.colormap, self._note)
        if capture.key != key or self._sent.get("drawn") == state:
            return
        if capture.error:
            self._show_status(capture.error, "error")
            return
        self._draw(layer, channel, sample)
        self._sent["drawn"] = state
        if self._note:
            self._show_status(self._note, "warning")
        elif self._failure:
            self._show_status(f"The forward pass fails after the layers shown here: {self._failure}",
                              "warning")
        else:
            shape = "x".join(map(str, self.layers[layer].output_shape))
            self._show_status(f"step {capture.step}: {layer}, output {shape}", "info")

    def _draw(self, layer: str, channel: int, sample: int) -> None:
        values = self._capture.value
        if values is None:
            return
        tiles_key = (self._capture.key, self._capture.step, self.normalise)
        if self._tiles_key != tiles_key:
            self._tiles = to_uint8(values, per_tile=self.normalise == "channel")
        tiles = self._tiles
        assert tiles is not None
        channel = min(channel, len(tiles) - 1)
        with self.hold_sync():
            if self._sent.get("sample") != sample:
                tile = input_tile(self._inputs[sample])
                label = f"sample {sample}, target {int(self._targets[sample])}" \
                    if self._targets.dim() == 1 else f"sample {sample}"
                if tile is not None:
                    self.input_view.set_tiles(tile, caption=label)
                self._sent["sample"] = sample
            for view in (self.grid, self.channel_view):
                if view.colormap != self.colormap:
                    view.colormap = self.colormap
            if self._tiles_key != tiles_key:
                self.grid.set_tiles(tiles, labels=[f"channel {i}" for i in range(len(tiles))],
                                    selected=channel)
                self._tiles_key = tiles_key
                self._sent["channel_tile"] = None
            elif self.grid.selected != channel:
                self.grid.selected = channel
            if self._sent.get("channel_tile") != (tiles_key, channel):
                self.channel_view.set_tiles(tiles[channel:channel + 1], caption=f"{layer} channel {channel}")
                self._sent["channel_tile"] = (tiles_key, channel)

    def _show_status(self, text: str, kind: str) -> None:
        html = message_html(text, kind) if text else ""
        if self.status.value != html:
            self.status.value = html

    @property
    def captures(self) -> int:
        """Forward passes run so far (for tests and benches)."""
        return self._capture.captures if hasattr(self, "_capture") else 0

    @property
    def _cache_step(self) -> int:
        return self._capture.step

    def on_close(self) -> None:
        if hasattr(self, "_links"):
            for link in self._links:
                link.unlink()
            self.selection.unobserve(self._on_selection, names=["layer", "channel", "sample"])


__all__ = ["FeatureMaps", "NORMALISATIONS", "check_probe_size", "default_layer", "input_tile", "labelled"]
