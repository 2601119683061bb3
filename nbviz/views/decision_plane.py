"""DecisionPlane: an image classifier's decision regions in the plane through three images.

The plane a + s (b - a) + t (c - a) through three probe samples (by index into the run's
probe batch, e.g. ``explorer.selected[:3]`` of the EmbeddingExplorer) is coloured by the
predicted class (pale where the model is unsure); the three images sit at grid points
(A bottom left, B bottom right, C top left, marked with black rims) and are shown with
their own predictions. The map is drawn coarse first (16 x 16) and then at full
resolution (64 x 64 by default), on a copy of the model taken at a batch boundary and
computed in a worker thread, so training neither waits for it nor changes.

Example:
    >>> nbviz.DecisionPlane(session, indices=(0, 5, 9))
"""

from __future__ import annotations

import copy
import threading
from typing import Any

import ipywidgets as widgets
import numpy as np
import torch

from ..boundary.plane import PlaneGrid, check_three, plane_probabilities
from ..boundary.render import map_colours
from ..widgets.image_grid import ImageGrid
from ..widgets.images import image_tiles
from .base import LiveView, message_html

COARSE = 16
SCALE = 4  # screen pixels per grid point at 64 x 64


class DecisionPlane(LiveView):
    """Decision regions of a classifier in the plane through three probe samples.

    Args:
        session: a TrainingSession or nbviz.watch() run.
        indices: three different indices into the probe batch.
        resolution: grid points per side (4..256, default 64).
        probe_size: how many probe samples the indices may refer to.

    Raises:
        ValueError: not three different indices, indices outside the probe batch, a bad
            resolution, or three samples that coincide or lie on one line.
    """

    min_interval = 0.2

    def __init__(self, session: Any, indices: tuple[int, int, int] | list[int] = (0, 1, 2),
                 resolution: int = 64, probe_size: int = 64) -> None:
        super().__init__(session)
        try:
            self._setup(list(indices), resolution, probe_size)
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_explorer(cls, explorer: Any, resolution: int = 64) -> DecisionPlane:
        """The plane through the first three samples selected in an EmbeddingExplorer.

        Raises:
            ValueError: fewer than three points are selected.
        """
        chosen = list(explorer.selected)[:3]
        if len(chosen) < 3:
            raise ValueError(f"select at least three points in the embedding explorer first "
                             f"(box or lasso); {len(chosen)} selected")
        return cls(explorer.session, indices=chosen, resolution=resolution,
                   probe_size=len(explorer._inputs))

    def _setup(self, indices: list[int], resolution: int, probe_size: int) -> None:
        self.grid = PlaneGrid(resolution)
        if len(indices) != 3 or len(set(indices)) != 3 or any(isinstance(i, bool) or not isinstance(i, int)
                                                               for i in indices):
            raise ValueError(f"indices must be three different sample indices, got {indices!r}")
        inputs, targets = self.session.probe_batch(max(probe_size, max(indices) + 1))
        bad = [i for i in indices if not 0 <= i < len(inputs)]
        if bad:
            raise ValueError(f"indices {bad} are outside the probe batch of {len(inputs)} samples")
        self.indices = indices
        self.images = [inputs[i] for i in indices]
        self.targets = [int(targets[i]) if targets[i].numel() == 1 else -1 for i in indices]
        a, b, c = self.images
        check_three(a, b, c)
        self.probabilities: np.ndarray | None = None
        self.resolution_drawn = 0
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._pending: tuple[np.ndarray, int] | None = None
        self._error: BaseException | None = None
        self.corner_probabilities: np.ndarray | None = None
        self.map_view = ImageGrid(tile_size=SCALE * 64, columns=1)
        self.map_view.add_class("nbviz-plane-map")
        self.images_view = ImageGrid(tile_size=72, columns=3)
        self.status = widgets.HTML(message_html("computing the plane…", "info"))
        self.add_class("nbviz-decision-plane")
        self.children = [widgets.HBox([self.map_view, self.images_view], layout=widgets.Layout(flex_flow="row wrap")),
                         self.status]
        tiles = image_tiles(torch.stack(self.images), per_tile=True)
        if tiles is not None:
            self.images_view.set_tiles(tiles, labels=[f"{n} (#{i})" for n, i in zip("ABC", indices, strict=True)])
        model = self.session.model
        self.ask(lambda: copy.deepcopy(model), self._start_worker, self._on_error)

    def _start_worker(self, model: torch.nn.Module) -> None:
        a, b, c = self.images

        def work() -> None:
            try:
                for res in dict.fromkeys((min(COARSE, self.grid.resolution), self.grid.resolution)):
                    probs = plane_probabilities(model, a, b, c, PlaneGrid(res),
                                                cancelled=lambda: self.closed)
                    if probs is None:
                        return
                    with self._lock:
                        self._pending = (probs, res)
                    self.poke()
                    if self.closed:
                        return
            except Exception as exc:  # shown by refresh(); the run goes on
                with self._lock:
                    self._error = exc
                self.poke()

        self._worker = threading.Thread(target=work, name="nbviz-decision-plane", daemon=True)
        self._worker.start()

    def on_close(self) -> None:
        # the worker stops at its next chunk; wait for it, so no torch op outlives the view
        # (one still running when the interpreter exits aborts the process)
        worker = getattr(self, "_worker", None)  # None: __init__ failed before it
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout=10)

    def _on_error(self, error: BaseException) -> None:
        self.status.value = message_html(f"could not copy the model: {error}", "error")

    def refresh(self) -> None:
        with self._lock:
            pending, self._pending, error, self._error = self._pending, None, self._error, None
        if error is not None:
            self.status.value = message_html(f"could not compute the plane: {error}", "error")
        if pending is None:
            return
        probs, res = pending
        self.probabilities, self.resolution_drawn = probs, res
        grid = PlaneGrid(res)
        corners = [grid.index_of(0, 0), grid.index_of(1, 0), grid.index_of(0, 1)]
        self.corner_probabilities = np.stack([probs[r, c] for r, c in corners])
        scale = max(1, SCALE * 64 // res)
        image = np.repeat(np.repeat(map_colours(probs, discretize=True, uncertainty=True), scale, 0), scale, 1)
        for r, c in corners:  # a dark rim around each of the three images' grid cells
            r0, c0 = r * scale, c * scale
            image[max(r0 - 2, 0):r0 + scale + 2, max(c0 - 2, 0):c0 + scale + 2] = 30
            image[r0:r0 + scale, c0:c0 + scale] = map_colours(probs[r:r + 1, c:c + 1], True, True)[0, 0]
        predicted = self.corner_probabilities.argmax(1)
        with self.hold_sync():
            self.map_view.set_tiles(np.clip(image, 0, 255).astype(np.uint8)[None],
                                    caption=f"{res}x{res} plane: A bottom left, B bottom right, C top left")
            self.status.value = message_html(
                "predicted at A, B, C: " + ", ".join(
                    f"{n}: class {p} ({q:.0%}; label {t})" for n, p, q, t in
                    zip("ABC", predicted, self.corner_probabilities.max(1), self.targets, strict=True))
                + ("" if res == self.grid.resolution else " — refining…"), "info")


__all__ = ["DecisionPlane"]
