"""NetworkCanvas: a TensorFlow-Playground-style network diagram (anywidget front end).

Layers of nodes (inputs, hidden units, outputs) joined by edges whose colour shows the
weight's sign (blue positive, orange negative) and whose width shows its magnitude; every
node shows its own map as a small uint8 tile. Weights travel as one float32 buffer, tiles as
one uint8 buffer (``js/src/network.js`` draws them); resting the pointer on a node or
clicking it reports the node's index to Python.

Example:
    >>> net = NetworkCanvas()
    >>> net.set_network([2, 3, 2], labels=["x1", "x2", "", "", "", "class 0", "class 1"])
    >>> net.set_state([w1, w2], tiles)  # w1: 3 x 2, w2: 2 x 3; tiles: 7 x 20 x 20 uint8
    >>> net.on_hover(lambda node: print("resting on", node))
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import traitlets

from .canvas import CanvasWidget

_STATIC = Path(__file__).resolve().parent.parent / "static"
MAX_NODES_PER_LAYER = 64


class NetworkCanvas(CanvasWidget):
    """A layered network drawn on one canvas: weights as edges, node maps as thumbnails."""

    _esm = _STATIC / "network.js"

    sizes = traitlets.List(traitlets.Int()).tag(sync=True)
    column_titles = traitlets.List(traitlets.Unicode()).tag(sync=True)
    weights = traitlets.Bytes(b"").tag(sync=True)
    tiles = traitlets.Bytes(b"").tag(sync=True)
    count = traitlets.Int(0).tag(sync=True)
    tile_height = traitlets.Int(0).tag(sync=True)
    tile_width = traitlets.Int(0).tag(sync=True)
    colormap = traitlets.Unicode("orangeblue").tag(sync=True)
    node_size = traitlets.Int(36).tag(sync=True)

    @traitlets.validate("node_size")
    def _valid_node_size(self, proposal: traitlets.Bunch) -> int:
        if not 12 <= proposal["value"] <= 128:
            raise traitlets.TraitError(f"node_size must be 12..128 pixels, got {proposal['value']}")
        return proposal["value"]

    @property
    def node_count(self) -> int:
        return sum(self.sizes)

    def set_network(self, sizes: Sequence[int], labels: Sequence[str] | None = None,
                    column_titles: Sequence[str] | None = None) -> None:
        """The layer sizes (inputs first, outputs last) and a label per node; clears weights and tiles.

        Raises:
            ValueError: fewer than two layers, a layer of 0 or more than 64 nodes, or a
                label count that is not the node count.
        """
        sizes = [int(n) for n in sizes]
        if len(sizes) < 2 or any(not 1 <= n <= MAX_NODES_PER_LAYER for n in sizes):
            raise ValueError(f"a network needs at least two layers of 1..{MAX_NODES_PER_LAYER} nodes, got {sizes}")
        if labels is not None and len(labels) != sum(sizes):
            raise ValueError(f"got {len(labels)} labels for {sum(sizes)} nodes")
        with self.hold_sync():
            self.weights, self.tiles, self.count = b"", b"", 0
            self.sizes = sizes
            self.labels = [str(label) for label in labels] if labels is not None else [""] * sum(sizes)
            self.column_titles = [str(t) for t in column_titles] if column_titles is not None else []
            if self.selected >= sum(sizes):
                self.selected = -1

    def set_state(self, weights: Sequence[np.ndarray], tiles: np.ndarray | None = None,
                  caption: str | None = None) -> None:
        """Send the weight matrices (one ``out x in`` array per connection) as one float32
        buffer and the node maps (uint8, nodes x H x W) as one uint8 buffer, in one message.

        Raises:
            ValueError: a matrix whose shape does not join its two layers, or tiles whose
                count is not the node count.
            TypeError: tiles that are not uint8.
        """
        sizes = self.sizes
        if len(weights) != len(sizes) - 1:
            raise ValueError(f"got {len(weights)} weight matrices for {len(sizes)} layers")
        for k, w in enumerate(weights):
            if np.shape(w) != (sizes[k + 1], sizes[k]):
                raise ValueError(f"weight matrix {k} has shape {np.shape(w)}, expected {(sizes[k + 1], sizes[k])}")
        flat = np.concatenate([np.asarray(w, np.float32).reshape(-1) for w in weights])
        payload = np.nan_to_num(flat, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32).tobytes()
        with self.hold_sync():
            self.weights = payload
            if tiles is not None:
                array = np.asarray(tiles)
                if array.dtype != np.uint8:
                    raise TypeError(f"tiles must be uint8, got {array.dtype}")
                if array.ndim != 3 or len(array) != self.node_count:
                    raise ValueError(f"tiles must have shape {self.node_count} x H x W, got {array.shape}")
                self.tiles = np.ascontiguousarray(array).tobytes()
                self.count, self.tile_height, self.tile_width = array.shape
            if caption is not None:
                self.caption = caption

    def item_count(self) -> int:
        return self.node_count


__all__ = ["NetworkCanvas"]
