"""DecisionBoundary: where a 2-D-input model puts each class, live while it trains.

The class-probability map on a grid (100 x 100 by default) is drawn behind the training
points (dark rim) and validation points (white rim) as one RGB tile of an
:class:`~nbviz.widgets.image_grid.ImageGrid`; for an MLP every hidden unit's own map is
shown as a thumbnail (rest the pointer on one to enlarge it; a click keeps it enlarged).
The grid pass runs in the training thread at a batch boundary under the probe rules, so
training is bit-identical with the view open; while training runs, passes are spaced so
they take at most 2 % of the training thread's time.

Example:
    >>> data = nbviz.datasets.toy2d("spiral")
    >>> session = nbviz.TrainingSession(model, *data.loaders())
    >>> nbviz.DecisionBoundary(session)
"""

from __future__ import annotations

import time
from typing import Any

import ipywidgets as widgets
import numpy as np
import torch
import traitlets

from ..boundary.grid import GridSpec, PlaneMaps, compute_maps, hidden_units, mlp_chain, plane_bounds
from ..boundary.render import render_map, unit_tiles
from ..probes.budget import TimeBudget
from ..widgets import guarded
from ..widgets.image_grid import ImageGrid
from .base import LiveView, message_html
from .links import ControlLink

MAX_POINTS = 2000  # points drawn per split (more would hide the map)
MAX_UNIT_TILES = 256
CHECK_TIMEOUT = 60.0


def _dataset_points(loader: Any, limit: int = MAX_POINTS) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Up to ``limit`` (inputs, targets) read from a loader's dataset by index, without
    iterating the loader (which would advance its shuffling generator and change training)."""
    dataset = getattr(loader, "dataset", None)
    if dataset is None:
        return None
    tensors = getattr(dataset, "tensors", None)
    if isinstance(tensors, tuple) and len(tensors) >= 2:
        return tensors[0][:limit].detach().cpu(), tensors[1][:limit].detach().cpu()
    try:
        items = [dataset[i] for i in range(min(len(dataset), limit))]
        inputs = torch.stack([torch.as_tensor(item[0]) for item in items])
        targets = torch.as_tensor([int(item[1]) for item in items])
    except Exception:  # not (input, label) pairs: the caller falls back to the probe batch
        return None
    return inputs, targets


def not_2d_message(shape: tuple[int, ...]) -> str:
    return (f"DecisionBoundary draws the plane of a model whose inputs are 2-D points (batch x 2); "
            f"this run's inputs have shape {shape} per batch. For image classifiers use "
            "nbviz.DecisionPlane(session, indices=(i, j, k)): the decision regions in the plane "
            "through three chosen images.")


class DecisionBoundary(LiveView):
    """The decision map of a 2-D-input classifier with its data, and its hidden units' maps.

    Args:
        session: a TrainingSession (or nbviz.watch() run) of a model taking N x 2 inputs.
        resolution: grid points per side (8..400, default 100).
        show_units: compute every hidden unit's map (MLPs: outputs of activation modules).
        unit_grid: show those maps as a grid of thumbnails (False where a
            :class:`~nbviz.views.network_diagram.NetworkDiagram` shows them instead).

    Raises:
        ValueError: inputs that are not 2-D points, a resolution out of range, or a model
            whose output is not one row of class scores per point.
    """

    discretize = traitlets.Bool(False)
    uncertainty = traitlets.Bool(True)
    show_validation = traitlets.Bool(True)
    unit = traitlets.Int(-1)  # clicked: stays enlarged
    hovered = traitlets.Int(-1)  # the pointer rests on it: enlarged while it does

    min_interval = 0.2
    train_interval = 0.2
    training_share = 0.02  # grid passes take at most this share of the training thread's time

    def __init__(self, session: Any, resolution: int = 100, show_units: bool = True,
                 unit_grid: bool = True) -> None:
        super().__init__(session)
        try:
            self._setup(resolution, show_units)
            if not unit_grid:
                self.units_box.layout.display = "none"
        except BaseException:
            self.close()
            raise

    def _setup(self, resolution: int, show_units: bool) -> None:
        train = _dataset_points(getattr(self.session, "train_loader", None))
        val = _dataset_points(getattr(self.session, "val_loader", None))
        if train is None and val is None:
            val = self.session.probe_batch(MAX_POINTS)
        for part in (train, val):
            if part is not None and (part[0].dim() != 2 or part[0].shape[1] != 2):
                raise ValueError(not_2d_message(tuple(part[0].shape[1:])))
        parts = [p for p in (train, val) if p is not None]
        self._points = torch.cat([p[0] for p in parts]).float().numpy()
        self._labels = torch.cat([p[1].reshape(-1) for p in parts]).long().numpy()
        self._held_out = np.concatenate([np.full(len(p[0]), p is val) for p in parts])
        self.grid = GridSpec(*plane_bounds(self._points), resolution=resolution)
        model = self.session.model
        self._units = hidden_units(model) if show_units else []
        small = GridSpec(self.grid.x_min, self.grid.x_max, self.grid.y_min, self.grid.y_max, 8)
        check = self.session.run_at_batch_boundary(lambda: compute_maps(model, small, self._units))
        try:
            first = check.result(CHECK_TIMEOUT)
        except Exception as exc:
            raise ValueError(f"{type(model).__name__} could not be run on 2-D grid points: {exc}") from exc
        if len(first.units) > MAX_UNIT_TILES:
            self._units = []
        # the Linear layers of a plain MLP (for a network diagram), None for other models
        self.chain = mlp_chain(model, first.unit_names if self._units else [])
        self.record_network = False  # set by want_network(): passes then copy weights too
        self._recapture = False
        self.maps: PlaneMaps | None = None
        self.captures = 0
        self._asked = False
        self._timing = TimeBudget(self.train_interval, self.training_share, clock=time.monotonic)
        self.companion_seconds = 0.0  # a NetworkDiagram's drawing cost per map (pump thread)
        self.pass_seconds = 0.0  # grid passes' time in the training thread, all told (benches)
        self._drawn: tuple | None = None
        self._build()
        self.observe(lambda _change: self.poke(),
                     names=["discretize", "uncertainty", "show_validation", "unit", "hovered"])

    def _build(self) -> None:
        auto = widgets.Layout(width="auto")  # not ipywidgets' 300 px: the row fits beside a diagram
        self.discretize_box = guarded.Checkbox(value=self.discretize, description="discretize", indent=False,
                                               layout=auto)
        self.uncertainty_box = guarded.Checkbox(value=self.uncertainty, description="shade uncertainty",
                                                indent=False, layout=widgets.Layout(width="auto"))
        self.validation_box = guarded.Checkbox(value=self.show_validation, description="validation points",
                                               indent=False, layout=widgets.Layout(width="auto"))
        lock = self.context.state_lock
        self._links = [ControlLink(self.discretize_box, self, "discretize", lock),
                       ControlLink(self.uncertainty_box, self, "uncertainty", lock),
                       ControlLink(self.validation_box, self, "show_validation", lock)]
        self.map_view = ImageGrid(tile_size=360, columns=1)
        self.units_view = ImageGrid(tile_size=56, colormap="coolwarm", columns=8)
        self.unit_view = ImageGrid(tile_size=180, colormap="coolwarm", columns=1)
        self.units_view.on_click(self._on_unit_click)
        self.units_view.on_hover(self._on_unit_hover)
        self.map_view.add_class("nbviz-db-map")
        self.units_view.add_class("nbviz-db-units")
        self.unit_view.add_class("nbviz-db-unit")
        self.status = widgets.HTML()
        note = widgets.HTML(message_html(
            "hidden units (blue < 0 < red); rest the pointer on one to enlarge it, click to keep it"
            if self._units
            else "no hidden units to show (the model has no activation or hidden Linear modules)", "info"))
        self.add_class("nbviz-decision-boundary")
        self.units_box = widgets.VBox([note, self.units_view, self.unit_view])
        self.children = [widgets.HBox([self.discretize_box, self.uncertainty_box, self.validation_box],
                                      layout=widgets.Layout(flex_flow="row wrap")),
                         widgets.HBox([self.map_view, self.units_box], layout=widgets.Layout(flex_flow="row wrap")),
                         self.status]

    def want_network(self) -> None:
        """From now on record what a network diagram needs (the first Linear's inputs, the
        last one's outputs, the weights), with a fresh pass even while paused.

        Raises:
            ValueError: the model is not a plain MLP chain (see :func:`mlp_chain`).
        """
        if self.chain is None:
            raise ValueError(
                f"a network diagram needs a plain MLP: Linear -> activation -> ... -> Linear, each "
                f"layer feeding the next; {type(self.session.model).__name__} is not one (or has "
                f"more than {MAX_UNIT_TILES} hidden units). Its unit maps are in DecisionBoundary.")
        self.record_network = True
        self._recapture = True
        self.poke()

    def unit_labels(self, names: list[str]) -> list[str]:
        """'hidden layer k, unit i (module name)' for each recorded unit name 'module[i]'."""
        order = {name: k + 1 for k, (name, _) in enumerate(self._units)}
        labels = []
        for full in names:
            module, _, rest = full.partition("[")
            layer = order.get(module)
            labels.append(f"hidden layer {layer}, unit {rest.rstrip(']')} ({module})" if layer else full)
        return labels

    def _on_unit_click(self, index: int) -> None:  # front-end thread: store and poke only
        self.unit = index

    def _on_unit_hover(self, index: int) -> None:  # front-end thread: store and poke only
        self.hovered = index

    @property
    def enlarged(self) -> int:
        """The unit shown enlarged: the one the pointer rests on, else the clicked one (-1: none)."""
        return self.hovered if self.hovered >= 0 else self.unit

    @traitlets.validate("unit", "hovered")
    def _valid_unit(self, proposal: traitlets.Bunch) -> int:
        value = proposal["value"]
        maps = getattr(self, "maps", None)
        count = len(maps.unit_names) if maps is not None else MAX_UNIT_TILES
        if not -1 <= value < max(count, 0):
            raise traitlets.TraitError(f"unit {value!r} is outside -1..{count - 1}")
        return value

    def refresh(self) -> None:
        self.deliver_answers()
        # the pass blocks the training thread; drawing here (and in a companion diagram)
        # competes with it for the interpreter: while training runs, all of it stays in budget
        timing = self._timing
        timing.min_interval, timing.share = self.train_interval, self.training_share
        moved = self.maps is None or self._recapture or (
            self.session.step_count != self.maps.step and (timing.due() or self.session.state != "running"))
        if moved and not self._asked:
            self._capture()
            self.deliver_answers()
        if self.maps is None:
            return
        key = (self.maps.step, self.captures, self.discretize, self.uncertainty, self.show_validation, self.enlarged)
        if key == self._drawn:
            return
        started = time.thread_time()
        self._draw()
        if self._drawn is None or self._drawn[:2] != key[:2]:  # drawing a new pass's maps
            self._timing.charge(time.thread_time() - started + self.companion_seconds)
        self._drawn = key

    def _capture(self) -> None:
        model, grid, units = self.session.model, self.grid, self._units
        network = self.chain if self.record_network else None

        def work() -> tuple[PlaneMaps, float]:
            start = time.perf_counter()
            maps = compute_maps(model, grid, units, self.session.step_count, network)
            return maps, time.perf_counter() - start

        def on_result(result: tuple[PlaneMaps, float]) -> None:
            self._asked = False
            self.maps = result[0]
            self._timing.record(result[1])
            self.pass_seconds += result[1]
            self.captures += 1

        def on_error(error: BaseException) -> None:
            self._asked = False
            self.status.value = message_html(f"could not compute the map: {error}", "error")

        self._asked = True
        self._recapture = False
        self.ask(work, on_result, on_error)

    def image(self) -> np.ndarray:
        """The map with the data points as drawn now (uint8 H x W x 3)."""
        assert self.maps is not None
        keep = np.ones(len(self._points), bool) if self.show_validation else ~self._held_out
        return render_map(self.maps.probabilities, self.grid, self._points[keep], self._labels[keep],
                          self._held_out[keep], self.discretize, self.uncertainty)

    def _draw(self) -> None:
        maps = self.maps
        assert maps is not None
        with self.hold_sync():
            self.map_view.set_tiles(self.image()[None], caption=f"step {maps.step}")
            if len(maps.units) and self.units_box.layout.display != "none":  # hidden: a diagram shows them
                tiles = unit_tiles(maps.units)
                labels = self.unit_labels(maps.unit_names)
                self.units_view.set_tiles(tiles, labels=labels, selected=self.unit)
                shown = self.enlarged
                if 0 <= shown < len(tiles):
                    self.unit_view.set_tiles(tiles[shown:shown + 1], caption=labels[shown])
                elif self.unit_view.count:
                    self.unit_view.set_tiles(np.zeros((0, 1, 1), np.uint8), caption="")
            self.status.value = message_html(
                f"step {maps.step}: {maps.probabilities.shape[-1]} classes on a "
                f"{self.grid.resolution}x{self.grid.resolution} grid over x {self.grid.x_min:.2g}..{self.grid.x_max:.2g}, "
                f"y {self.grid.y_min:.2g}..{self.grid.y_max:.2g}; {len(maps.unit_names)} hidden units", "info")

    def on_close(self) -> None:
        for link in getattr(self, "_links", []):
            link.unlink()
        view = getattr(self, "units_view", None)
        if view is not None:
            view.on_click(self._on_unit_click, remove=True)
            view.on_hover(self._on_unit_hover, remove=True)


__all__ = ["DecisionBoundary", "not_2d_message"]
