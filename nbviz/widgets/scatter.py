"""A WebGL scatter (anywidget) for up to ~100k points with hover thumbnails and selection.

Everything per point travels as one binary buffer (float32 positions and values, int32
labels, uint8 colour categories and thumbnails), sent once per change. Hover runs entirely
in the browser; only a finished selection (``selected``) or a click comes back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets

from .images import to_uint8

_STATIC = Path(__file__).resolve().parent.parent / "static" / "scatter.js"
#: the largest thumbnail atlas sent to the browser; bigger image sets are downsampled.
MAX_ATLAS_BYTES = 48 * 2**20
MAX_POINTS = 2_000_000


def _float32_bytes(array: Any, name: str, width: int = 1) -> bytes:
    values = np.asarray(array, dtype=np.float32)
    if width == 2 and (values.ndim != 2 or values.shape[1] != 2):
        raise ValueError(f"{name} must have shape (n, 2), got {values.shape}")
    if width == 1 and values.ndim != 1:
        raise ValueError(f"{name} must be one value per point (shape (n,)), got {values.shape}")
    return np.ascontiguousarray(values).tobytes()


def _check_length(name: str, size: int, itemsize: int) -> None:
    if size % itemsize:
        raise traitlets.TraitError(f"{name} holds {size} bytes, not a whole number of {itemsize}-byte values")


class ScatterWidget(anywidget.AnyWidget):
    """An interactive scatter of n points.

    Set data with :meth:`set_positions`, :meth:`set_colors`, :meth:`set_info` and
    :meth:`set_thumbnails` rather than the raw byte traits. ``selected`` holds the indices
    the user boxed or lassoed (sorted, unique); :meth:`on_click` registers a handler for a
    clicked point.

    Example:
        >>> w = ScatterWidget()
        >>> w.set_positions(np.random.randn(1000, 2))
        >>> w.set_colors(categories=labels, names=[str(k) for k in range(10)])
    """

    _esm = _STATIC

    positions = traitlets.Bytes(b"").tag(sync=True)  # float32, x0 y0 x1 y1 ...
    n_points = traitlets.Int(0, read_only=True)
    color_mode = traitlets.Enum(["category", "value"], "category").tag(sync=True)
    color_categories = traitlets.Bytes(b"").tag(sync=True)  # uint8 per point
    color_values = traitlets.Bytes(b"").tag(sync=True)  # float32 per point
    color_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    color_title = traitlets.Unicode("").tag(sync=True)
    palette = traitlets.List(traitlets.Unicode()).tag(sync=True)  # "#rrggbb"; empty: default
    labels = traitlets.Bytes(b"").tag(sync=True)  # int32 per point, -1 unknown
    predictions = traitlets.Bytes(b"").tag(sync=True)  # int32 per point, -1 unknown
    confidences = traitlets.Bytes(b"").tag(sync=True)  # float32 per point
    losses = traitlets.Bytes(b"").tag(sync=True)  # float32 per point
    class_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    thumbnails = traitlets.Bytes(b"").tag(sync=True)  # uint8, n x h x w x c
    thumb_shape = traitlets.List(traitlets.Int(), [0, 0, 0], minlen=3, maxlen=3).tag(sync=True)
    selected = traitlets.List(traitlets.Int()).tag(sync=True)
    point_size = traitlets.Float(4.0).tag(sync=True)
    transition_ms = traitlets.Int(600).tag(sync=True)
    height = traitlets.Int(420).tag(sync=True)
    jump_count = traitlets.Int(0).tag(sync=True)  # bumped with positions that must not animate

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._click_handlers: list[Callable[[int], None]] = []
        self.on_msg(self._on_custom_msg)

    # ---- validation (values from the front end are untrusted) ---------------------------
    @traitlets.validate("positions")
    def _valid_positions(self, proposal: traitlets.Bunch) -> bytes:
        value = bytes(proposal["value"])
        _check_length("positions", len(value), 8)
        if not np.isfinite(np.frombuffer(value, dtype=np.float32)).all():
            raise traitlets.TraitError("positions contain NaN or infinite values")
        if len(value) // 8 > MAX_POINTS:
            raise traitlets.TraitError(f"at most {MAX_POINTS} points, got {len(value) // 8}")
        return value

    @traitlets.observe("positions")
    def _count(self, change: traitlets.Bunch) -> None:
        self.set_trait("n_points", len(change["new"]) // 8)
        if self.selected and max(self.selected) >= self.n_points:
            self.selected = []

    @traitlets.validate("color_values", "confidences", "losses", "labels", "predictions")
    def _valid_4byte(self, proposal: traitlets.Bunch) -> bytes:
        value = bytes(proposal["value"])
        _check_length(proposal["trait"].name, len(value), 4)
        return value

    @traitlets.validate("selected")
    def _valid_selected(self, proposal: traitlets.Bunch) -> list[int]:
        value = proposal["value"]
        if any(not isinstance(i, int) or isinstance(i, bool) for i in value):
            raise traitlets.TraitError("selected must be a list of point indices (ints)")
        bad = [i for i in value if i < 0 or i >= self.n_points]
        if bad:
            raise traitlets.TraitError(
                f"selected holds indices outside 0..{self.n_points - 1}: {bad[:5]}")
        return sorted(set(value))

    @traitlets.validate("point_size")
    def _valid_size(self, proposal: traitlets.Bunch) -> float:
        size = proposal["value"]
        if not 0.5 <= size <= 64:
            raise traitlets.TraitError(f"point_size must be within 0.5-64 pixels, got {size}")
        return size

    @traitlets.validate("transition_ms", "height")
    def _valid_non_negative(self, proposal: traitlets.Bunch) -> int:
        value = proposal["value"]
        if value < 0 or value > 10_000:
            raise traitlets.TraitError(f"{proposal['trait'].name} must be within 0-10000, got {value}")
        return value

    @traitlets.validate("thumb_shape")
    def _valid_thumb_shape(self, proposal: traitlets.Bunch) -> list[int]:
        h, w, c = proposal["value"]
        if h < 0 or w < 0 or c not in (0, 1, 3, 4):
            raise traitlets.TraitError(f"thumb_shape must be [height, width, 1|3|4], got {proposal['value']}")
        return [h, w, c]

    # ---- the Python API ----------------------------------------------------------------------
    def set_positions(self, xy: Any, animate: bool = True) -> None:
        """Moves the points to ``xy`` (shape (n, 2)); animated when n is unchanged."""
        data = _float32_bytes(xy, "positions", width=2)
        with self.hold_sync():
            if not animate:
                self.jump_count += 1
            self.positions = data

    def set_colors(self, categories: Any = None, names: Sequence[str] | None = None,
                   values: Any = None, title: str = "", palette: Sequence[str] = ()) -> None:
        """Colours points by integer ``categories`` (with legend ``names``) or float ``values``."""
        if (categories is None) == (values is None):
            raise ValueError("pass exactly one of categories= (ints per point) or values= (floats per point)")
        with self.hold_sync():
            if categories is not None:
                cats = np.asarray(categories)
                if cats.ndim != 1 or (cats.size and (cats.min() < 0 or cats.max() > 255)):
                    raise ValueError("categories must be one int in 0..255 per point")
                self.color_categories = cats.astype(np.uint8).tobytes()
                self.color_names = [str(n) for n in (names or [])]
                self.palette = list(palette)
                self.color_mode = "category"
            else:
                self.color_values = _float32_bytes(values, "values")
                self.color_names = []
                self.color_mode = "value"
            self.color_title = title

    def set_info(self, labels: Any = None, predictions: Any = None, confidences: Any = None,
                 losses: Any = None, class_names: Sequence[str] | None = None) -> None:
        """What the hover tooltip shows per point (any may be None)."""
        with self.hold_sync():
            for name, array, dtype in (("labels", labels, np.int32), ("predictions", predictions, np.int32),
                                       ("confidences", confidences, np.float32), ("losses", losses, np.float32)):
                if array is None:
                    setattr(self, name, b"")
                    continue
                values = np.asarray(array)
                if values.ndim != 1:
                    raise ValueError(f"{name} must be one value per point (shape (n,)), got {values.shape}")
                setattr(self, name, values.astype(dtype).tobytes())
            if class_names is not None:
                self.class_names = [str(n) for n in class_names]

    def set_thumbnails(self, images: Any, max_bytes: int = MAX_ATLAS_BYTES) -> None:
        """Sends the hover thumbnails once: ``images`` (n, c, h, w) or (n, h, w[, c]), any dtype.

        Values are scaled to 0-255 per set (min to max); the set is downsampled by striding
        until it fits ``max_bytes``.
        """
        array = np.asarray(images)
        if array.ndim == 3:
            array = array[..., None]
        if array.ndim != 4:
            raise ValueError(f"images must be (n, c, h, w) or (n, h, w[, c]), got shape {array.shape}")
        if array.shape[1] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
            array = array.transpose(0, 2, 3, 1)
        if array.shape[-1] not in (1, 3, 4):
            raise ValueError(f"images need 1, 3 or 4 channels, got shape {array.shape}")
        if array.dtype != np.uint8:
            array = to_uint8(array, per_tile=False)
        while array.nbytes > max_bytes and min(array.shape[1:3]) > 4:
            array = array[:, ::2, ::2]
        if array.nbytes > max_bytes:
            raise ValueError(f"{len(array)} thumbnails need {array.nbytes / 2**20:.0f} MiB even at "
                             f"{array.shape[1]}x{array.shape[2]}; pass fewer images or raise max_bytes")
        with self.hold_sync():
            self.thumbnails = np.ascontiguousarray(array).tobytes()
            self.thumb_shape = list(array.shape[1:])

    def on_click(self, handler: Callable[[int], None], remove: bool = False) -> None:
        """Calls ``handler(index)`` when the user clicks a point."""
        if remove:
            self._click_handlers.remove(handler)
        else:
            self._click_handlers.append(handler)

    def _on_custom_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict) or content.get("type") != "click":
            return
        index = content.get("index")
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < self.n_points:
            return  # untrusted: ignore anything that is not a valid point
        for handler in list(self._click_handlers):
            handler(index)
