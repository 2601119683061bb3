"""ImageGrid: a canvas of uint8 image tiles sent as one binary buffer (anywidget front end).

Used by the feature-map view (one tile per channel), the weight views (one tile per filter)
and anything else that shows many small images at once. Pixels travel as one ``bytes``
buffer plus shape traits, never as JSON lists, and are drawn by ``js/src/image_grid.js``.

Example:
    >>> grid = ImageGrid(colormap="viridis")
    >>> grid.set_tiles(np.zeros((64, 28, 28), np.uint8))
    >>> grid.on_click(lambda index: print("tile", index))
    >>> grid.on_hover(lambda index: print("resting on", index))  # -1: left the tiles
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets

from .pointer import PointerHandlers

COLORMAPS = ("gray", "viridis", "magma", "inferno", "coolwarm", "orangeblue")
"""Colormaps the front end knows (js/src/lib/colormap.js); applied to one-channel tiles."""

_STATIC = Path(__file__).resolve().parent.parent / "static"


class ImageGrid(anywidget.AnyWidget):
    """A grid of uint8 tiles on one canvas; clicking a tile, or resting the pointer on one
    (debounced in the front end), reports its index to Python.

    Set the pixels with :meth:`set_tiles` (one message for data and shape). One-channel
    tiles are coloured with ``colormap``; three-channel tiles are shown as RGB.
    ``selected`` outlines one tile (-1 for none). ``tile_size`` is the display size in
    pixels of a tile's longer side; ``columns`` 0 picks a near-square grid.
    """

    _esm = _STATIC / "image_grid.js"

    data = traitlets.Bytes(b"").tag(sync=True)
    count = traitlets.Int(0).tag(sync=True)
    tile_height = traitlets.Int(0).tag(sync=True)
    tile_width = traitlets.Int(0).tag(sync=True)
    channels = traitlets.Int(1).tag(sync=True)
    colormap = traitlets.Unicode("gray").tag(sync=True)
    columns = traitlets.Int(0).tag(sync=True)
    tile_size = traitlets.Int(48).tag(sync=True)
    selected = traitlets.Int(-1).tag(sync=True)
    caption = traitlets.Unicode("").tag(sync=True)
    labels = traitlets.List(traitlets.Unicode()).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pointer = PointerHandlers()
        self.on_msg(self._handle_message)

    @traitlets.validate("colormap")
    def _valid_colormap(self, proposal: traitlets.Bunch) -> str:
        if proposal["value"] not in COLORMAPS:
            raise traitlets.TraitError(
                f"unknown colormap {proposal['value']!r}; use one of {', '.join(COLORMAPS)}")
        return proposal["value"]

    @traitlets.validate("tile_size")
    def _valid_tile_size(self, proposal: traitlets.Bunch) -> int:
        if not 4 <= proposal["value"] <= 1024:
            raise traitlets.TraitError(f"tile_size must be 4..1024 pixels, got {proposal['value']}")
        return proposal["value"]

    @traitlets.validate("columns")
    def _valid_columns(self, proposal: traitlets.Bunch) -> int:
        if proposal["value"] < 0:
            raise traitlets.TraitError(f"columns must be >= 0 (0 = automatic), got {proposal['value']}")
        return proposal["value"]

    def set_tiles(self, tiles: np.ndarray, labels: Sequence[str] | None = None,
                  selected: int | None = None, caption: str | None = None) -> None:
        """Show ``tiles``: uint8 of shape N x H x W (one channel) or N x H x W x 3 (RGB).

        Sends data, shape (and the optional labels, selection, caption) in one message.

        Raises:
            TypeError: tiles are not uint8 (use :func:`scale_to_uint8` first).
            ValueError: the shape is not N x H x W or N x H x W x 3.
        """
        array = np.asarray(tiles)
        if array.dtype != np.uint8:
            raise TypeError(f"tiles must be uint8, got {array.dtype}; convert with "
                            "nbviz.views.image_grid.to_uint8(values)")
        if array.ndim == 3:
            channels = 1
        elif array.ndim == 4 and array.shape[3] == 3:
            channels = 3
        else:
            raise ValueError(f"tiles must have shape N x H x W or N x H x W x 3, got {array.shape}")
        if labels is not None and len(labels) not in (0, len(array)):
            raise ValueError(f"got {len(labels)} labels for {len(array)} tiles")
        payload = np.ascontiguousarray(array).tobytes()  # a copy: the caller may reuse its array
        with self.hold_sync():
            self.data = payload
            self.count, self.tile_height, self.tile_width = array.shape[:3]
            self.channels = channels
            if labels is not None:
                self.labels = [str(label) for label in labels]
            if selected is not None:
                self.selected = selected
            if caption is not None:
                self.caption = caption

    def on_click(self, callback: Callable[[int], None], remove: bool = False) -> None:
        """Call ``callback(index)`` when a tile is clicked (``remove=True`` unregisters it).

        The callback runs on whatever thread delivers comm messages: keep it to validating
        and setting state.
        """
        self._pointer.register("click", callback, remove)

    def on_hover(self, callback: Callable[[int], None], remove: bool = False) -> None:
        """Call ``callback(index)`` when the pointer rests on a tile (-1: it left them all).

        Same threading rule as :meth:`on_click`.
        """
        self._pointer.register("hover", callback, remove)

    def _handle_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        self._pointer.dispatch(content, self.count)  # untrusted: only valid indices get through


__all__ = ["COLORMAPS", "ImageGrid"]
