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

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import traitlets

from .canvas import COLORMAPS, CanvasWidget

_STATIC = Path(__file__).resolve().parent.parent / "static"


class ImageGrid(CanvasWidget):
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
    columns = traitlets.Int(0).tag(sync=True)
    tile_size = traitlets.Int(48).tag(sync=True)

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

    def item_count(self) -> int:
        return self.count


__all__ = ["COLORMAPS", "ImageGrid"]
