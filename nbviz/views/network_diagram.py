"""NetworkDiagram: an MLP drawn as in the TensorFlow playground, live while it trains.

Input features on the left, hidden units in the middle, class scores on the right; every
edge is a weight (blue positive, orange negative, wider for larger magnitude) and every node
shows its own map over the plane, from the same grid pass as the
:class:`~nbviz.views.decision_boundary.DecisionBoundary` it is given (so the diagram and the
map always show the same step). Rest the pointer on a node to enlarge its map; click to keep
it enlarged. Weights and thumbnails travel as float32 and uint8 buffers, at most once per
``min_interval`` seconds (the pump's rate limit) and only when a new pass arrived.

Example:
    >>> boundary = nbviz.DecisionBoundary(session)
    >>> nbviz.NetworkDiagram(boundary)
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import traitlets

from ..boundary.grid import PlaneMaps
from ..boundary.render import unit_tiles
from ..widgets.image_grid import ImageGrid
from ..widgets.network import MAX_NODES_PER_LAYER, NetworkCanvas
from .base import LiveView
from .decision_boundary import DecisionBoundary

THUMB = 25  # thumbnail side sent per node (the full map is sent only for the enlarged node)


def input_names(model: Any, count: int) -> list[str]:
    """Names of the first Linear's inputs: an ``InputFeatures`` module's names, else x1, x2..."""
    for module in model.modules():
        names = getattr(module, "names", None)
        if isinstance(names, list) and len(names) == count and all(isinstance(n, str) for n in names):
            return list(names)
    return [f"x{i + 1}" for i in range(count)]


class NetworkDiagram(LiveView):
    """The network of a DecisionBoundary's MLP: weights as edges, every node's map as a thumbnail.

    Args:
        boundary: the :class:`DecisionBoundary` of the run (its grid passes feed the diagram).
        thumb: thumbnail side in grid points (4..100).
        node_size: display size of a node in pixels (12..128; shrinks to fit tall layers).

    Raises:
        TypeError: ``boundary`` is not a DecisionBoundary.
        ValueError: the model is not a plain MLP chain, or a layer has more than 64 units.
    """

    min_interval = 0.3
    hovered = traitlets.Int(-1)
    pinned = traitlets.Int(-1)

    def __init__(self, boundary: DecisionBoundary, thumb: int = THUMB, node_size: int = 36) -> None:
        if not isinstance(boundary, DecisionBoundary):
            raise TypeError(f"NetworkDiagram needs the run's DecisionBoundary view, got {type(boundary).__name__}; "
                            "make one with nbviz.DecisionBoundary(session)")
        super().__init__(boundary.session)
        try:
            self._setup(boundary, thumb, node_size)
        except BaseException:
            self.close()
            raise

    def _setup(self, boundary: DecisionBoundary, thumb: int, node_size: int) -> None:
        if not 4 <= thumb <= 100:
            raise ValueError(f"thumb must be 4..100 grid points, got {thumb}")
        boundary.want_network()
        chain = boundary.chain
        assert chain is not None
        self.boundary = boundary
        self.sizes = [chain[0].in_features, *[layer.out_features for layer in chain]]
        if max(self.sizes) > MAX_NODES_PER_LAYER:
            raise ValueError(f"a layer of {max(self.sizes)} units is too wide to draw (at most {MAX_NODES_PER_LAYER})")
        hidden = self.sizes[1:-1]
        self.labels = [*input_names(self.session.model, self.sizes[0]),
                       *[f"hidden layer {k + 1}, unit {i}" for k, n in enumerate(hidden) for i in range(n)],
                       *[f"class {c} score" for c in range(self.sizes[-1])]]
        self._stride = max(1, boundary.grid.resolution // thumb)
        self._drawn: tuple | None = None
        self.canvas = NetworkCanvas(node_size=node_size)
        self.canvas.set_network(self.sizes, self.labels,
                                ["inputs", *[f"hidden {k + 1}" for k in range(len(hidden))], "outputs"])
        self.canvas.on_hover(self._on_hover)
        self.canvas.on_click(self._on_click)
        self.zoom = ImageGrid(tile_size=180, colormap="orangeblue", columns=1)
        self.canvas.add_class("nbviz-network-diagram")
        self.zoom.add_class("nbviz-network-zoom")
        self.add_class("nbviz-network-view")
        self.observe(lambda _change: self.poke(), names=["hovered", "pinned"])
        self.children = [self.canvas, self.zoom]

    def _on_hover(self, index: int) -> None:  # front-end thread: store and poke only
        self.hovered = index

    def _on_click(self, index: int) -> None:  # a second click on the pinned node unpins it
        with self.context.state_lock:
            self.pinned = -1 if index == self.pinned else index

    @traitlets.validate("hovered", "pinned")
    def _valid_node(self, proposal: traitlets.Bunch) -> int:
        value = proposal["value"]
        if not -1 <= value < sum(getattr(self, "sizes", [MAX_NODES_PER_LAYER * 8])):
            raise traitlets.TraitError(f"node {value!r} is outside the network")
        return value

    @property
    def enlarged(self) -> int:
        """The node shown enlarged: the one the pointer rests on, else the clicked one."""
        return self.hovered if self.hovered >= 0 else self.pinned

    def node_parts(self, maps: PlaneMaps) -> list[np.ndarray] | None:
        """The nodes' maps as [inputs, hidden units, class scores] (each n x res x res);
        None until a pass recorded the network."""
        if not maps.weights or len(maps.inputs) != self.sizes[0] or len(maps.outputs) != self.sizes[-1]:
            return None
        if len(maps.units) != sum(self.sizes[1:-1]):
            return None
        return [maps.inputs, maps.units, maps.outputs]

    def node_maps(self, maps: PlaneMaps) -> np.ndarray | None:
        """Every node's map (nodes x res x res): inputs, hidden units, class scores."""
        parts = self.node_parts(maps)
        return None if parts is None else np.concatenate(parts)

    def _node_map(self, parts: list[np.ndarray], index: int) -> np.ndarray:
        for part in parts:
            if index < len(part):
                return part[index:index + 1]
            index -= len(part)
        raise IndexError(index)

    def refresh(self) -> None:
        maps = self.boundary.maps
        if maps is None:
            return
        key = (self.boundary.captures, self.enlarged)
        if key == self._drawn:
            return
        started = time.thread_time()
        parts = self.node_parts(maps)
        if parts is None:
            return
        with self.hold_sync():
            if self._drawn is None or self._drawn[0] != key[0]:
                thumbs = np.concatenate([unit_tiles(part, self._stride) for part in parts if len(part)])
                self.canvas.set_state(maps.weights, thumbs,
                                      caption=f"step {maps.step}. Edges: weights, blue > 0 > orange, wider = larger. "
                                              "Rest the pointer on a node to enlarge its map.")
            self.canvas.selected = self.pinned
            shown = self.enlarged
            if 0 <= shown < sum(self.sizes):
                self.zoom.set_tiles(unit_tiles(self._node_map(parts, shown)), caption=self.labels[shown])
            elif self.zoom.count:
                self.zoom.set_tiles(np.zeros((0, 1, 1), np.uint8), caption="")
        self._drawn = key
        self.boundary.companion_seconds = time.thread_time() - started

    def on_close(self) -> None:
        canvas = getattr(self, "canvas", None)
        if canvas is not None:
            canvas.on_hover(self._on_hover, remove=True)
            canvas.on_click(self._on_click, remove=True)
        boundary = getattr(self, "boundary", None)
        if boundary is not None:
            boundary.record_network = False
            boundary.companion_seconds = 0.0


__all__ = ["NetworkDiagram", "input_names"]
