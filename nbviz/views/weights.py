"""Weights view: first-layer filters, a weight-matrix heat map (ipympl), histograms over time.

* The first convolution's filters as an image grid, in colour when the layer reads 3
  channels (0 is mid-grey, each filter stretched symmetrically), live while training.
* The selected layer's weight as a heat map in an ipympl figure the user can zoom, pan and
  extend with matplotlib (``view.figure``, ``view.ax``). It is redrawn only when the layer
  changes or "Redraw" is clicked, never at training rate.
* Histograms of the layer's weights and gradients over time, with a step slider to look
  back (kept in bounded memory by the run's shared :class:`ParamStats`).

The layer follows ``self.context.selection.layer`` (the structure table sets it) and
picking a layer here sets it for the other views.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

import ipywidgets as widgets
import numpy as np
import torch
from torch import nn

from ..session.base import SessionBase
from ..widgets import guarded
from ..widgets.image_grid import ImageGrid
from ..widgets.images import to_uint8
from .base import LiveView, message_html
from .param_histograms import HistogramHistory


def weight_layers(model: nn.Module) -> list[str]:
    """Dotted names of modules that own a ``weight`` Parameter, in model order."""
    return [name for name, m in model.named_modules()
            if name and isinstance(getattr(m, "weight", None), nn.Parameter)]


def weight_copy(module: nn.Module) -> torch.Tensor:
    """A CPU copy of ``module.weight`` (the training thread keeps changing the original)."""
    weight = getattr(module, "weight")  # noqa: B009  (nn.Module types attributes as Tensor | Module)
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"{type(module).__name__}.weight is not a tensor")
    return weight.detach().to("cpu").clone()


def first_conv(model: nn.Module) -> tuple[str, nn.Module] | None:
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            return name, module
    return None


def filter_tiles(weight: torch.Tensor) -> tuple[np.ndarray, str]:
    """uint8 tiles of conv filters (out x in x kh x kw) and a caption saying what they show."""
    w = weight.detach().to("cpu", torch.float32)
    if w.dim() != 4:
        raise ValueError(f"conv filters need a 4-d weight, got shape {tuple(w.shape)}")
    if w.shape[1] == 3:
        return to_uint8(w.permute(0, 2, 3, 1), symmetric=True), "RGB (grey = 0)"
    if w.shape[1] == 1:
        return to_uint8(w[:, 0], symmetric=True), "blue < 0 < red"
    return (to_uint8(w.mean(dim=1), symmetric=True),
            f"mean over the {w.shape[1]} input channels, blue < 0 < red")


def as_matrix(weight: np.ndarray) -> np.ndarray:
    """A 2-d view of any weight: rows are output units, columns everything else."""
    if weight.ndim == 0:
        return weight.reshape(1, 1)
    if weight.ndim == 1:
        return weight.reshape(1, -1)
    return weight.reshape(weight.shape[0], -1)


def _new_figure() -> Any:
    """An ipympl figure that is not registered with pyplot (no global state, no auto-show)."""
    from ipympl.backend_nbagg import Canvas, FigureManager
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.5, 3.6), layout="constrained")
    canvas = Canvas(figure)
    FigureManager(canvas, 0)
    canvas.header_visible = False
    return figure


class Weights(LiveView):
    """Filters, weight heat map and weight/gradient histograms of one run's model.

    Args:
        session: a TrainingSession or nbviz.watch(...) run.
        tile_size: display size of a filter tile in pixels.

    Example:
        >>> view = nbviz.Weights(session)
        >>> view.ax.axhline(3, color="k"); view.figure.canvas.draw_idle()   # extend it
    """

    min_interval = 1.0

    def __init__(self, session: SessionBase, tile_size: int = 40) -> None:
        super().__init__(session)
        self.add_class("nbviz-weights")
        try:
            self._build(tile_size)
        except BaseException:
            self.close()  # releases whatever was acquired before the failure
            raise

    def _build(self, tile_size: int) -> None:
        self.selection = self.context.selection
        model = self.session.model
        self.layers = weight_layers(model)
        self.message = widgets.HTML()
        self.filters = ImageGrid(colormap="coolwarm", tile_size=tile_size)
        self.filter_caption = widgets.HTML()
        conv = first_conv(model)
        self._conv_name = conv[0] if conv else None
        initial = self._resolve(self.selection.layer) or (self.layers[0] if self.layers else None)
        self.layer = guarded.Dropdown(options=self.layers, value=initial, description="layer",
                                      layout=widgets.Layout(width="340px"))
        self.redraw = widgets.Button(description="Redraw", icon="refresh",
                                     tooltip="redraw the heat map with the current weights")
        self.figure = _new_figure()
        self.ax: Any = None
        self.stats = self.context.acquire_param_stats(self)
        self.histograms = HistogramHistory(self.stats)
        self._matrix_wanted = True
        self._drawn = threading.Event()  # set once the heat map shows the chosen layer
        self._matrix_future: Future | None = None
        self._filter_future: Future | None = None
        self._filter_step = -1
        self._pending_layer = ""
        children: list[widgets.Widget] = [self.message]
        if conv is not None:
            children += [widgets.HTML(f"<b>Filters of the first convolution, {conv[0]}</b>"),
                         self.filter_caption, self.filters]
        else:
            self.message.value = message_html(
                "This model has no Conv2d layer, so there are no filters to show as images; "
                "the heat map below shows any layer's weights.", "info")
        if not self.layers:
            self.message.value = message_html("This model has no layer with a weight to show.", "warning")
        children += [widgets.HTML("<b>Weight matrix</b> (zoom, pan, extend with view.ax)"),
                     widgets.HBox([self.layer, self.redraw]), self.figure.canvas,
                     widgets.HTML("<b>Histograms over time</b>"), self.histograms]
        self.children = children
        if initial:
            self.histograms.select_layer(initial)
        self.layer.observe(self._on_layer, "value")
        self.redraw.on_click(self._on_redraw)
        self.filters.on_click(self._on_filter_click)
        self.selection.observe(self._on_selection, "layer")
        self.poke()

    # ---- observers: validate and set state only ---------------------------------------------
    def _resolve(self, name: str) -> str | None:
        """The weighted layer for a selected module name (itself, or its first weighted child)."""
        if name in self.layers:
            return name
        return next((n for n in self.layers if n.startswith(name + ".")), None) if name else None

    def _on_layer(self, change: dict) -> None:
        self._drawn.clear()
        self._matrix_wanted = True
        if change["new"] and self.selection.layer != change["new"]:
            self.selection.layer = change["new"]
        self.poke()

    def _on_selection(self, change: dict) -> None:
        self._pending_layer = change["new"]
        self.poke()

    def _on_redraw(self, _button: Any = None) -> None:
        self._matrix_wanted = True
        self.poke()

    def _on_filter_click(self, index: int) -> None:
        self.selection.channel = index

    # ---- pump thread ------------------------------------------------------------------------
    def refresh(self) -> None:
        if self._pending_layer:
            name, self._pending_layer = self._pending_layer, ""
            target = self._resolve(name)
            if target and target != self.layer.value:
                self.layer.value = target  # fires _on_layer: the heat map will redraw
        self._update_filters()
        self._update_matrix()
        self.histograms.select_layer(self.layer.value or "")
        self.histograms.update()

    def _update_filters(self) -> None:
        if self._conv_name is None:
            return
        if self._filter_future is None and self.session.step_count != self._filter_step:
            module = self.session.model.get_submodule(self._conv_name)
            self._filter_future = self.session.run_at_batch_boundary(
                lambda: (self.session.step_count, weight_copy(module)))
        future = self._filter_future
        if future is not None and future.done():
            self._filter_future = None
            step, weight = future.result()
            self._filter_step = step
            tiles, caption = filter_tiles(weight)
            self.filters.set_tiles(tiles, labels=[str(i) for i in range(len(tiles))])
            self.filter_caption.value = (f"{len(tiles)} filters {tuple(weight.shape[2:])} at step "
                                         f"{step}: {caption}; click one to select that channel")

    def _update_matrix(self) -> None:
        name = self.layer.value
        if self._matrix_wanted and self._matrix_future is None and name:
            self._matrix_wanted = False
            module = self.session.model.get_submodule(name)
            self._matrix_future = self.session.run_at_batch_boundary(
                lambda: (name, self.session.step_count, weight_copy(module)))
        future = self._matrix_future
        if future is not None and future.done():
            self._matrix_future = None
            name, step, weight = future.result()
            self.draw_matrix(name, step, weight)
            if name == self.layer.value and not self._matrix_wanted:
                self._drawn.set()

    def wait_drawn(self, timeout: float = 60.0) -> None:
        """Block until the heat map shows the chosen layer (before extending ``view.ax``).

        Raises:
            TimeoutError: not drawn within ``timeout`` seconds (is the training thread stuck?).
        """
        self.poke()
        if not self._drawn.wait(timeout):
            raise TimeoutError(f"the heat map of {self.layer.value!r} was not drawn in {timeout} s")

    def draw_matrix(self, name: str, step: int, weight: torch.Tensor) -> None:
        """Draw ``weight`` as a heat map (rows: output units; columns: inputs x kernel)."""
        values = weight.to(torch.float32).numpy()
        matrix = as_matrix(values)
        limit = float(np.nanmax(np.abs(matrix))) if matrix.size else 1.0
        self.figure.clear()
        self.ax = self.figure.add_subplot()
        image = self.ax.imshow(matrix, cmap="coolwarm", vmin=-limit or -1, vmax=limit or 1,
                               aspect="auto", interpolation="nearest")
        self.figure.colorbar(image, ax=self.ax, shrink=0.9)
        self.ax.set_title(f"{name}.weight {tuple(values.shape)} at step {step}", fontsize=10)
        self.ax.set_ylabel("output unit")
        self.ax.set_xlabel("input" if values.ndim == 2 else
                           "input x kernel position" if values.ndim > 2 else "index")
        self.figure.canvas.draw_idle()

    def on_close(self) -> None:
        if hasattr(self, "selection"):
            self.selection.unobserve(self._on_selection, "layer")
        if hasattr(self, "stats"):
            self.context.release_param_stats(self)
        if hasattr(self, "figure"):
            self.figure.canvas.close()
