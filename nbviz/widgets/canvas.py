"""The base of nbviz's canvas widgets (ImageGrid, NetworkCanvas): colormap, selection,
caption and labels traits, and click/hover messages from the front end (``js/src/lib/pointer.js``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

from .pointer import PointerHandlers

COLORMAPS = ("gray", "viridis", "magma", "inferno", "coolwarm", "orangeblue")
"""Colormaps the front end knows (js/src/lib/tile_colormap.js); applied to one-channel tiles."""


class CanvasWidget(anywidget.AnyWidget):
    """An anywidget canvas of indexed items (tiles, nodes) that reports clicks and hovers.

    Subclasses set ``_esm`` and say how many items there are in :meth:`item_count`; messages
    naming any other index are ignored (the front end is untrusted).
    """

    colormap = traitlets.Unicode("gray").tag(sync=True)
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

    def item_count(self) -> int:
        """How many items (tiles, nodes) a click or hover may name."""
        raise NotImplementedError

    def on_click(self, callback: Callable[[int], None], remove: bool = False) -> None:
        """Call ``callback(index)`` when an item is clicked (``remove=True`` unregisters it).

        The callback runs on whatever thread delivers comm messages: keep it to validating
        and setting state.
        """
        self._pointer.register("click", callback, remove)

    def on_hover(self, callback: Callable[[int], None], remove: bool = False) -> None:
        """Call ``callback(index)`` when the pointer rests on an item (-1: it left them all).

        Same threading rule as :meth:`on_click`.
        """
        self._pointer.register("hover", callback, remove)

    def _handle_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        self._pointer.dispatch(content, self.item_count())


__all__ = ["COLORMAPS", "CanvasWidget"]
