"""The "Decision plane" dashboard tab: pick three images, then see the plane through them.

A :class:`~nbviz.views.decision_plane.DecisionPlane` needs three images, so the tab asks for
them: click three probe images in its gallery (click again to take one back), type three probe indices, or press "use the
Embeddings selection" to take the first three points selected (box or lasso) in the run's
EmbeddingExplorer. A clear message stays until three different images are picked. Clicks
only check and queue; the UI pump builds the plane (so clicks on several threads never race).

Example:
    >>> nbviz.Dashboard(session, tabs=["Embeddings", "Decision plane"])
"""

from __future__ import annotations

import threading
from typing import Any

import ipywidgets as widgets
import torch
import traitlets

from ..widgets import guarded
from ..widgets.image_grid import ImageGrid
from ..widgets.images import image_tiles
from .base import LiveView, message_html
from .decision_plane import DecisionPlane

GALLERY = 32  # probe images offered for picking (the plane may use any probe index)
PROBE = 64
ASK = ("pick three images for the plane: click three in the gallery, type three probe indices and "
       "press Draw, or select at least three points in the Embeddings tab (box or lasso) and press "
       "'Use the Embeddings selection'")


class DecisionPlaneTab(LiveView):
    """Chooses three probe images and shows the :class:`DecisionPlane` through them.

    Args:
        session: a TrainingSession or nbviz.watch() run of a classifier.
    """

    min_interval = 0.2
    picked = traitlets.List(traitlets.Int(), maxlen=3)

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        self._lock = threading.Lock()
        self._request: tuple[str, list[int]] | None = None
        self.plane: DecisionPlane | None = None
        inputs, _ = self.session.probe_batch(PROBE)
        self.probe_size = len(inputs)
        self.index_fields = [guarded.BoundedIntText(value=-1, min=-1, max=self.probe_size - 1, description=name,
                                                    layout=widgets.Layout(width="150px")) for name in "ABC"]
        self.draw_button = widgets.Button(description="Draw", icon="play")
        self.explorer_button = widgets.Button(description="Use the Embeddings selection", icon="object-group",
                                              layout=widgets.Layout(width="auto"))
        self.clear_button = widgets.Button(description="Clear", icon="times")
        self.gallery = ImageGrid(tile_size=40, columns=16)
        self.gallery.add_class("nbviz-plane-gallery")
        tiles = image_tiles(torch.as_tensor(inputs[:GALLERY]), per_tile=True)
        if tiles is not None:
            self.gallery.set_tiles(tiles, labels=[f"probe image #{i}" for i in range(len(tiles))])
        self.gallery.on_click(self._on_gallery)
        self.draw_button.on_click(lambda _b: self._ask("indices", [f.value for f in self.index_fields]))
        self.explorer_button.on_click(lambda _b: self._ask("explorer", []))
        self.clear_button.on_click(lambda _b: self._ask("clear", []))
        self.message = widgets.HTML(message_html(ASK, "info"))
        self.message.add_class("nbviz-plane-message")
        self.plane_box = widgets.VBox()
        self.add_class("nbviz-decision-plane-tab")
        self.children = [widgets.HBox([*self.index_fields, self.draw_button, self.explorer_button, self.clear_button],
                                      layout=widgets.Layout(flex_flow="row wrap")),
                         self.gallery, self.message, self.plane_box]

    # ---- front-end events: check and queue (any thread) ---------------------------------------
    def _on_gallery(self, index: int) -> None:
        with self._lock:
            chosen = [i for i in self.picked if i != index]  # a second click takes an image back
            self.picked = chosen if len(chosen) < len(self.picked) else [*chosen, index][-3:]
            if len(self.picked) == 3:
                self._request = ("indices", list(self.picked))
        self.poke()

    def _ask(self, kind: str, indices: list[int]) -> None:
        with self._lock:
            self._request = (kind, [int(i) for i in indices])
        self.poke()

    def explorer(self) -> Any | None:
        """The open EmbeddingExplorer of this run, if any."""
        from .embeddings import EmbeddingExplorer

        found = [v for v in self.context.pump.views() if isinstance(v, EmbeddingExplorer) and not v.closed]
        return found[0] if found else None

    # ---- the pump applies -----------------------------------------------------------------------
    def refresh(self) -> None:
        with self._lock:
            request, self._request = self._request, None
            picked = list(self.picked)
        if request is None:
            if len(picked) < 3 and self.plane is None:
                self._say(f"{ASK} — picked {len(picked)} of 3" + (f": {picked}" if picked else ""), "info")
            self._show_fields(picked)
            return
        kind, indices = request
        if kind == "clear":
            with self._lock:
                self.picked = []
            self._replace_plane(None)
            self._say(ASK, "info")
            self._show_fields([])
            return
        if kind == "explorer":
            explorer = self.explorer()
            if explorer is None:
                self._say("no Embeddings view is open for this run: open the Embeddings tab, select at least "
                          "three points (box or lasso), then press 'Use the Embeddings selection'", "warning")
                return
            indices = list(explorer.selected)[:3]
            if len(indices) < 3:
                self._say(f"select at least three points in the Embeddings tab (box or lasso); "
                          f"{len(indices)} selected", "warning")
                return
        if len(indices) != 3 or min(indices) < 0 or len(set(indices)) != 3:
            self._say(f"{ASK} — got {[i for i in indices if i >= 0]}: three different indices needed", "warning")
            return
        with self._lock:
            self.picked = list(indices)
        self._show_fields(indices)
        try:
            plane = DecisionPlane(self.session, indices=indices, probe_size=max(self.probe_size, max(indices) + 1))
        except ValueError as error:
            self._say(f"{error}; pick other images", "warning")
            return
        self._replace_plane(plane)
        self._say(f"the plane through probe images {indices}", "info")

    def _show_fields(self, picked: list[int]) -> None:
        values = [*picked, -1, -1, -1][:3]
        for field, value in zip(self.index_fields, values, strict=True):
            if field.value != value and value >= 0:
                field.value = value
        self.gallery.selected = picked[-1] if picked else -1

    def _say(self, text: str, kind: str) -> None:
        html = message_html(text, kind)
        if self.message.value != html:
            self.message.value = html

    def _replace_plane(self, plane: DecisionPlane | None) -> None:
        old, self.plane = self.plane, plane
        self.plane_box.children = [plane] if plane is not None else []
        if old is not None:
            old.close()

    def on_close(self) -> None:
        gallery = getattr(self, "gallery", None)
        if gallery is not None:
            gallery.on_click(self._on_gallery, remove=True)
        if self.plane is not None:
            self.plane.close()


__all__ = ["DecisionPlaneTab"]
