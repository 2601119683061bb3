"""FeatureMaps: every channel of a layer's output for one probe image, live while training.

The layer's activations are captured for the selected probe sample with one forward pass at
a batch boundary (hooks only for that pass) and cached; switching channel, normalisation or
colormap never reruns the model. While training runs, the capture is repeated at most every
``train_interval`` seconds. A model with no spatial layer gets bar charts of its vector
layers instead, with a message saying why.

Example:
    >>> view = nbviz.FeatureMaps(session, layer="layer1.0.conv1")
    >>> view.select(channel=12)
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from typing import Any

import ipywidgets as widgets
import numpy as np
import torch
import traitlets

from ..probes.capture import DEFAULT_TIMEOUT, LayerInfo, submit_activations
from ..widgets import guarded
from ..widgets.image_grid import COLORMAPS, ImageGrid
from ..widgets.images import image_tiles, to_uint8
from .base import LiveView, message_html

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


class FeatureMaps(LiveView):
    """Feature maps of one layer for one probe image: input, selected channel, all channels.

    Args:
        session: a TrainingSession or nbviz.watch() run.
        layer: dotted name of the layer to show first (default: the shared selection, else
            the first convolution).
        probe_size: how many probe images the sample selector offers.
        colormap: one of :data:`~nbviz.widgets.image_grid.COLORMAPS`.
        normalise: "channel" (each tile over its own range) or "layer" (one range for all
            channels, so they can be compared).
        tile_size: display size in pixels of one channel tile.
        timeout: seconds to wait for the training thread's next batch boundary.

    Raises:
        ValueError: for an unknown layer, colormap or normalisation, or a bad probe size.
    """

    min_interval = 0.05
    _built = False  # set once _setup() has built everything
    train_interval = 0.5  # seconds between captures driven by training progress

    def __init__(self, session: Any, layer: str | None = None, probe_size: int = 16,
                 colormap: str = "viridis", normalise: str = "channel", tile_size: int = 48,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self.status = widgets.HTML()
        super().__init__(session, children=[self.status])
        try:
            self._setup(layer, probe_size, colormap, normalise, tile_size)
        except BaseException:
            self.close()  # unregister from the pump and drop observers; nothing half-built stays live
            raise

    def _setup(self, layer: str | None, probe_size: int, colormap: str, normalise: str,
               tile_size: int) -> None:
        if isinstance(probe_size, bool) or not isinstance(probe_size, int) or not 1 <= probe_size <= 1024:
            raise ValueError(f"probe_size must be a whole number 1..1024, got {probe_size!r}")
        if colormap not in COLORMAPS:
            raise ValueError(f"unknown colormap {colormap!r}; use one of {', '.join(COLORMAPS)}")
        if normalise not in NORMALISATIONS:
            raise ValueError(f"normalise must be 'channel' or 'layer', got {normalise!r}")
        session = self.session
        all_layers = self.context.layers(timeout=self.timeout)
        spatial = [info for info in all_layers if info.spatial]
        self.vector_mode = not spatial
        self.layers = {info.name: info for info in (spatial or [info for info in all_layers if info.vector])}
        if not self.layers:
            self.status.value = message_html(
                "This model has no layer with a spatial (C x H x W) or vector output to show.", "warning")
            self.active = False
            return
        self._inputs, self._targets = session.probe_batch(probe_size)
        self.selection = self.context.selection
        start = layer if layer is not None else (
            self.selection.layer if self.selection.layer in self.layers else default_layer(list(self.layers.values())))
        if start not in self.layers:
            kind = "vector" if self.vector_mode else "spatial"
            raise ValueError(f"{start!r} is not a layer with {kind} output of {type(session.model).__name__}; "
                             f"choose one of: {', '.join(list(self.layers)[:12])}")
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()
        self._layer, self._sample = start, min(self.selection.sample, len(self._inputs) - 1)
        self._channel = min(self.selection.channel, max(self.layers[start].channels - 1, 0))
        self._normalise, self._colormap = normalise, colormap
        self._note = ""
        self._dirty = True
        self._cache_key: tuple[str, int] | None = None
        self._cache: torch.Tensor | None = None
        self._cache_step = -1
        self._captured_at = 0.0
        self._pending: tuple[Future, tuple[str, int]] | None = None
        self._pending_since = 0.0
        self._tiles: np.ndarray | None = None
        self._tiles_key: tuple | None = None
        self._sent: dict[str, Any] = {}
        self.captures = 0  # forward passes run (for tests and benches)
        self._build(tile_size)
        self.selection.observe(self._on_selection, names=["layer", "channel", "sample"])
        self._built = True
        if start != self.selection.layer:
            self.selection.layer = start
        self.poke()

    # ---- widgets ---------------------------------------------------------------------------
    def _build(self, tile_size: int) -> None:
        options = [(f"{name}  ({info.type}, {'x'.join(map(str, info.output_shape))})", name)
                   for name, info in self.layers.items()]
        self.layer_select = guarded.Dropdown(options=options, value=self._layer, description="layer",
                                             layout=widgets.Layout(width="420px"))
        self.channel_slider = guarded.IntSlider(value=self._channel, min=0,
                                                max=max(self.layers[self._layer].channels - 1, 0),
                                                description="channel", continuous_update=True)
        self.sample_slider = guarded.IntSlider(value=self._sample, min=0, max=len(self._inputs) - 1,
                                               description="sample")
        self.normalise_toggle = guarded.ToggleButtons(
            options=[("per channel", "channel"), ("per layer", "layer")], value=self._normalise,
            description="scale", style={"button_width": "110px"})
        self.colormap_select = guarded.Dropdown(options=list(COLORMAPS), value=self._colormap,
                                                description="colormap", layout=widgets.Layout(width="200px"))
        self.input_view = ImageGrid(tile_size=112, colormap="gray")
        self.channel_view = ImageGrid(tile_size=112, colormap=self._colormap)
        self.grid = ImageGrid(tile_size=tile_size, colormap=self._colormap)
        self.layer_select.observe(lambda c: self.select(layer=c["new"]), names="value")
        self.channel_slider.observe(lambda c: self.select(channel=c["new"]), names="value")
        self.sample_slider.observe(lambda c: self.select(sample=c["new"]), names="value")
        self.normalise_toggle.observe(lambda c: self.select(normalise=c["new"]), names="value")
        self.colormap_select.observe(lambda c: self.select(colormap=c["new"]), names="value")
        self.grid.on_click(lambda index: self.select(channel=index))
        self.add_class("nbviz-feature-maps")
        for widget, name in ((self.grid, "grid"), (self.channel_view, "channel"), (self.input_view, "input"),
                             (self.layer_select, "layer"), (self.channel_slider, "channel-slider"),
                             (self.sample_slider, "sample-slider")):
            widget.add_class(f"nbviz-fm-{name}")
        controls = widgets.VBox([
            widgets.HBox([self.layer_select, self.colormap_select]),
            widgets.HBox([self.channel_slider, self.sample_slider]),
            self.normalise_toggle])
        if self.vector_mode:
            self.bars, self._figure = _bar_chart()
            self.status.value = message_html(
                "This model has no layer with a spatial output (channels x height x width), so there "
                "are no feature maps to draw. Showing the activations of its vector layers for the "
                "selected sample instead.", "info")
            self.children = [self.status, widgets.HBox([self.layer_select, self.sample_slider]),
                             widgets.HBox([self.input_view, self._figure])]
        else:
            pictures = widgets.HBox([_labelled("input", self.input_view),
                                     _labelled("selected channel", self.channel_view)])
            self.children = [controls, pictures, self.grid, self.status]

    # ---- state changes (any thread): validate, store, poke the pump -----------------------
    def select(self, layer: str | None = None, channel: int | None = None, sample: int | None = None,
               normalise: str | None = None, colormap: str | None = None) -> bool:
        """Change what is shown; invalid values are refused (the old one is kept).

        Safe from any thread: it only validates and stores; the pump redraws. Returns True
        if every given value was accepted.
        """
        ok = True
        with self._lock:
            before = (self._layer, self._channel, self._sample, self._normalise, self._colormap, self._note)
            if layer is not None and layer != self._layer:
                if layer in self.layers:
                    self._layer = layer
                    self._channel = min(self._channel, max(self.layers[layer].channels - 1, 0))
                else:
                    ok, self._note = False, f"{layer!r} is not a layer this view can show; kept {self._layer!r}."
            if channel is not None and channel != self._channel:
                high = self.layers[self._layer].channels - 1
                if isinstance(channel, int) and not isinstance(channel, bool) and 0 <= channel <= high:
                    self._channel = channel
                else:
                    ok, self._note = False, f"channel {channel!r} is outside 0..{high}; kept {self._channel}."
            if sample is not None and sample != self._sample:
                if isinstance(sample, int) and not isinstance(sample, bool) and 0 <= sample < len(self._inputs):
                    self._sample = sample
                else:
                    ok, self._note = False, (f"sample {sample!r} is outside 0..{len(self._inputs) - 1}; "
                                             f"kept {self._sample}.")
            if normalise is not None and normalise != self._normalise:
                if normalise in NORMALISATIONS:
                    self._normalise = normalise
                else:
                    ok, self._note = False, f"normalise must be 'channel' or 'layer', got {normalise!r}."
            if colormap is not None and colormap != self._colormap:
                if colormap in COLORMAPS:
                    self._colormap = colormap
                else:
                    ok, self._note = False, f"unknown colormap {colormap!r}."
            if ok and (layer, channel, sample, normalise, colormap) != (None,) * 5:
                self._note = ""
            state = (self._layer, self._channel, self._sample)
            changed = before != (*state, self._normalise, self._colormap, self._note)
            self._dirty = self._dirty or changed
        if changed:
            self._publish(*state)
            self.poke()
        return ok

    def _publish(self, layer: str, channel: int, sample: int) -> None:
        """Tell the other views of this run what is selected here."""
        try:
            self.selection.layer, self.selection.channel, self.selection.sample = layer, channel, sample
        except traitlets.TraitError:
            pass

    def _on_selection(self, change: dict) -> None:
        name, value = change["name"], change["new"]
        current = {"layer": self._layer, "channel": self._channel, "sample": self._sample}[name]
        if value == current:
            return
        if name == "layer" and value not in self.layers:
            with self._lock:
                info = "not found" if self.vector_mode else "has no spatial output"
                self._note = f"{value!r} {info}; feature maps keep showing {self._layer!r}."
                self._dirty = True
            self.poke()
            return
        if name == "sample" and not 0 <= value < len(self._inputs):
            return  # a sample the probe batch of this view does not have
        if name == "channel" and not 0 <= value < self.layers[self._layer].channels:
            return
        self.select(**{name: value})

    # ---- the pump --------------------------------------------------------------------------
    def refresh(self, wait: bool = False) -> None:
        """Capture if needed, then send what changed (pump thread).

        Args:
            wait: block until a refresh running in another thread is done (tests,
                benches); the pump never waits.
        """
        if not self._built or not self._refreshing.acquire(blocking=wait):
            return
        try:
            self._refresh()
        finally:
            self._refreshing.release()

    def _refresh(self) -> None:
        with self._lock:
            layer, channel, sample = self._layer, self._channel, self._sample
            normalise, colormap, note, dirty = self._normalise, self._colormap, self._note, self._dirty
            self._dirty = False
        if self._pending is not None:
            future, key = self._pending
            if not future.done():
                if time.monotonic() - self._pending_since > self.timeout:
                    self._show_status(f"waiting for the training thread to reach a batch boundary "
                                      f"to capture {key[0]!r}", "warning")
                with self._lock:
                    self._dirty = self._dirty or dirty
                return
            self._pending = None
            if not self._consume(future, key):
                return
            dirty = True
        moved = (self.session.step_count != self._cache_step
                 and time.monotonic() - self._captured_at >= self.train_interval)
        if self._cache_key != (layer, sample) or moved:
            key = (layer, sample)
            future = submit_activations(self.session, [layer], self._inputs[sample:sample + 1],
                                        calls={layer: self.layers[layer].calls})
            if not future.done():  # training is running: collect it on a later tick
                self._pending, self._pending_since = (future, key), time.monotonic()
                future.add_done_callback(lambda _f: self.poke())
                with self._lock:
                    self._dirty = self._dirty or dirty
                return
            if not self._consume(future, key):
                return
            dirty = True
        if not dirty:
            return
        self._draw(layer, channel, sample, normalise, colormap)
        if note:
            self._show_status(note, "warning")
        else:
            shape = "x".join(map(str, self.layers[layer].output_shape))
            self._show_status(f"step {self._cache_step}: {layer}, output {shape}", "info")

    def _consume(self, future: Future, key: tuple[str, int]) -> bool:
        """Store a finished capture; show its error instead if it failed."""
        try:
            acts, step = future.result()
        except Exception as exc:  # show it; the view stays usable with another layer
            self._show_status(f"could not capture {key[0]!r}: {exc}", "error")
            self._cache_key = key  # do not retry the same failing capture every tick
            self._cache, self._cache_step = None, self.session.step_count
            return False
        self._cache, self._cache_key, self._cache_step = acts[key[0]][0], key, step
        self._captured_at = time.monotonic()
        self.captures += 1
        return True

    def _draw(self, layer: str, channel: int, sample: int, normalise: str, colormap: str) -> None:
        values = self._cache
        if values is None or self._cache_key != (layer, sample):
            return
        tiles_key = (self._cache_key, self._cache_step, normalise)
        if self._tiles_key != tiles_key and not self.vector_mode:
            self._tiles = to_uint8(values, per_tile=normalise == "channel")
        with self.hold_sync():
            self._sync_controls(layer, channel, sample, normalise, colormap)
            if self._sent.get("sample") != sample:
                tile = input_tile(self._inputs[sample])
                label = f"sample {sample}, target {int(self._targets[sample])}" \
                    if self._targets.dim() == 1 else f"sample {sample}"
                if tile is not None:
                    self.input_view.set_tiles(tile, caption=label)
                self._sent["sample"] = sample
            if self.vector_mode:
                if self._tiles_key != tiles_key:
                    array = values.numpy().astype(np.float32).ravel()
                    with self.bars.hold_sync():
                        self.bars.x = np.arange(len(array), dtype=np.float32)
                        self.bars.y = array
                self._tiles_key = tiles_key
                return
            for view in (self.grid, self.channel_view):
                if view.colormap != colormap:
                    view.colormap = colormap
            if self._tiles_key != tiles_key:
                self.grid.set_tiles(self._tiles, labels=[f"channel {i}" for i in range(len(self._tiles))],
                                    selected=channel)
                self._tiles_key = tiles_key
                self._sent["channel_tile"] = None
            elif self.grid.selected != channel:
                self.grid.selected = channel
            if self._sent.get("channel_tile") != (tiles_key, channel):
                self.channel_view.set_tiles(self._tiles[channel:channel + 1],
                                            caption=f"{layer} channel {channel}")
                self._sent["channel_tile"] = (tiles_key, channel)

    def _sync_controls(self, layer: str, channel: int, sample: int, normalise: str, colormap: str) -> None:
        high = max(self.layers[layer].channels - 1, 0)
        if self.layer_select.value != layer:
            self.layer_select.value = layer
        if channel > self.channel_slider.max:
            self.channel_slider.max = high
            self.channel_slider.value = channel
        else:
            self.channel_slider.value = channel
            self.channel_slider.max = high
        for control, value in ((self.sample_slider, sample), (self.normalise_toggle, normalise),
                               (self.colormap_select, colormap)):
            if control.value != value:
                control.value = value

    def _show_status(self, text: str, kind: str) -> None:
        if self.vector_mode and kind == "info":
            return  # keep the explanation of why bars are shown
        html = message_html(text, kind) if text else ""
        if self.status.value != html:
            self.status.value = html

    def on_close(self) -> None:
        if self._built:
            self._built = False
            self.selection.unobserve(self._on_selection, names=["layer", "channel", "sample"])
        for name in ("grid", "channel_view", "input_view", "layer_select", "channel_slider",
                     "sample_slider", "normalise_toggle", "colormap_select", "status"):
            widget = getattr(self, name, None)
            if widget is not None:
                widget.close()

    @property
    def layer(self) -> str:
        return self._layer

    @property
    def channel(self) -> int:
        return self._channel

    @property
    def sample(self) -> int:
        return self._sample


def _labelled(title: str, widget: widgets.Widget) -> widgets.VBox:
    return widgets.VBox([widgets.HTML(f"<b>{title}</b>"), widget])


def _bar_chart() -> tuple[Any, widgets.Widget]:
    """A bqplot bar chart for vector activations (imported only in vector mode)."""
    import bqplot

    x_scale, y_scale = bqplot.OrdinalScale(), bqplot.LinearScale()
    bars = bqplot.Bars(x=np.zeros(0, np.float32), y=np.zeros(0, np.float32),
                       scales={"x": x_scale, "y": y_scale}, colors=["#1565c0"])
    figure = bqplot.Figure(marks=[bars], axes=[bqplot.Axis(scale=x_scale, label="unit", num_ticks=8),
                                              bqplot.Axis(scale=y_scale, side="left",
                                                          label="activation")],
                           layout=widgets.Layout(width="560px", height="300px"),
                           fig_margin={"top": 10, "bottom": 40, "left": 60, "right": 10})
    return bars, figure


__all__ = ["FeatureMaps", "NORMALISATIONS", "default_layer", "input_tile"]
