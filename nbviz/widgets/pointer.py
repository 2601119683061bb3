"""Click and hover messages from the canvas front ends, checked before anyone acts on them.

Both :class:`~nbviz.widgets.image_grid.ImageGrid` and
:class:`~nbviz.widgets.network.NetworkCanvas` send ``{"type": "click" | "hover", "index": i}``;
a hover index of -1 means the pointer left every tile. Values from the front end are
untrusted: anything else is ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Handler = Callable[[int], None]


def pointer_event(content: Any, count: int) -> tuple[str, int] | None:
    """``(kind, index)`` of a valid click or hover message for ``count`` items, else None."""
    if not isinstance(content, dict) or content.get("type") not in ("click", "hover"):
        return None
    kind, index = content["type"], content.get("index")
    if isinstance(index, bool) or not isinstance(index, int):
        return None
    low = -1 if kind == "hover" else 0
    if not low <= index < count:
        return None
    return kind, index


class PointerHandlers:
    """The click and hover callbacks of one widget (copy-on-write lists: any thread)."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {"click": [], "hover": []}

    def register(self, kind: str, callback: Handler, remove: bool = False) -> None:
        handlers = self._handlers[kind]
        if remove:
            self._handlers[kind] = [h for h in handlers if h != callback]
        elif callback not in handlers:
            self._handlers[kind] = [*handlers, callback]

    def registered(self, kind: str) -> list[Handler]:
        """The callbacks registered for ``kind`` ("click" or "hover")."""
        return list(self._handlers[kind])

    def dispatch(self, content: Any, count: int) -> None:
        event = pointer_event(content, count)
        if event is None:
            return
        kind, index = event
        for handler in self._handlers[kind]:
            handler(index)


__all__ = ["PointerHandlers", "pointer_event"]
