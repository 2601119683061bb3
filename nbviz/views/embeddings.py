"""EmbeddingExplorer: a live 2-D map (PCA, t-SNE, UMAP) of a layer's features for the probe set.

Features come from any layer (default: the input of the last Linear) for up to 100k probe
samples, computed at batch boundaries under the probe guarantees. The projection runs in a
worker thread: t-SNE reports progress, so the scatter animates while it optimises, and can
be cancelled. During training the layout is recomputed after each epoch, warm-started from
the previous one so points move instead of jumping. Hovering a point shows its image, label,
prediction and confidence in the browser; a box or lasso selection comes back as
``explorer.selected`` and is shown as a gallery; clicking a point selects that sample for
the other views (``self.context.selection.sample``).

Example:
    >>> explorer = nbviz.EmbeddingExplorer(session, n_samples=2000, method="tsne")
    >>> explorer.compute(wait=True)
    >>> explorer.selected
"""

from __future__ import annotations

import threading
import time
from typing import Any

import ipywidgets as widgets
import numpy as np

from .. import embed
from ..widgets import guarded
from ..widgets.image_grid import ImageGrid
from ..widgets.scatter import ScatterWidget
from .base import LiveView, check_session, message_html
from .embeddings_data import check_probe_memory, layer_options, point_colors, thumbnails_of

METHODS = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
COLOR_BY = {"label": "true label", "prediction": "predicted label", "correct": "correct / wrong", "loss": "loss"}
MAX_SAMPLES = 100_000


def available_methods() -> list[str]:
    """Projection methods usable here (UMAP only when umap-learn is installed)."""
    return [m for m in METHODS if m != "umap" or embed.umap_available()]


def procrustes(Y: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Y rotated/reflected (no scaling) to best match ``reference``, so refreshes do not flip."""
    if Y.shape != reference.shape:
        return Y
    mu, ref_mu = Y.mean(0), reference.mean(0)
    u, _, vt = np.linalg.svd((Y - mu).T @ (reference - ref_mu))
    return ((Y - mu) @ (u @ vt) + ref_mu).astype(np.float32)


class _EpochFlag:
    """Training-thread callback: only flags that an epoch ended (the pump does the work)."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def on_epoch_end(self, run: Any) -> None:
        self.event.set()


class EmbeddingExplorer(LiveView):
    """Scatter of the probe set's features, projected to 2-D, live across training.

    Args:
        session: the run (``nbviz.TrainingSession`` or ``nbviz.watch(...)``).
        n_samples: probe samples to embed (3 to 100,000).
        layer: ``"name"`` for a module's output or ``"name:input"`` for its input; default the
            input of the last Linear layer.
        method: ``"pca"``, ``"tsne"`` or ``"umap"`` (umap-learn installed).
        color_by: ``"label"``, ``"prediction"``, ``"correct"`` or ``"loss"``.
        refresh_each_epoch: recompute (warm-started) after every training epoch.
        class_names: names of the classes for legend and tooltips.
        max_gallery: most images the selection gallery shows.

    Raises:
        ValueError: a bad argument, or a probe set that would not fit in memory (the
            message gives the size it needs).
    """

    min_interval = 0.2

    def __init__(self, session: Any, n_samples: int = 2000, layer: str | None = None,
                 method: str = "pca", color_by: str = "label", refresh_each_epoch: bool = True,
                 class_names: list[str] | None = None, max_gallery: int = 120) -> None:
        self.session = check_session(session)
        if not isinstance(n_samples, int) or not 3 <= n_samples <= MAX_SAMPLES:
            raise ValueError(f"n_samples must be an int in 3..{MAX_SAMPLES}, got {n_samples!r}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
        if method not in available_methods():
            raise ValueError("UMAP needs umap-learn: pip install 'nbviz[umap]' (or use 'pca' or 'tsne')")
        if color_by not in COLOR_BY:
            raise ValueError(f"color_by must be one of {list(COLOR_BY)}, got {color_by!r}")
        first, _ = session.probe_batch(1)
        check_probe_memory(n_samples, tuple(first.shape[1:]), first.element_size())
        inputs, targets = session.probe_batch(n_samples)
        self._inputs, self._targets = inputs, targets
        self._labels = (targets.long().numpy() if targets.dim() == 1 and not targets.is_floating_point()
                        else np.full(len(inputs), -1, np.int64))
        options = layer_options(session.model)
        if not options:
            raise ValueError("the model has no submodules to take features from")
        values = [value for _, value in options]
        layer = layer if layer is not None else values[0]
        if layer not in values:
            raise ValueError(f"unknown layer {layer!r}; choose one of {values[:8]}{' ...' if len(values) > 8 else ''}")
        self.class_names = list(class_names) if class_names else None
        self.max_gallery = max_gallery

        self.layer_select = guarded.Dropdown(options=options, value=layer, description="features")
        self.method_select = guarded.ToggleButtons(
            options=[(METHODS[m], m) for m in available_methods()], value=method,
            style={"button_width": "64px"})
        self.color_select = guarded.Dropdown(options=[(v, k) for k, v in COLOR_BY.items()], value=color_by,
                                             description="colour by")
        self.compute_button = widgets.Button(description="Compute", icon="refresh")
        self.auto_refresh = guarded.Checkbox(value=refresh_each_epoch, description="refresh each epoch", indent=False)
        self.progress = widgets.IntProgress(0, 0, 100, description="t-SNE", layout={"visibility": "hidden"})
        self.cancel_button = widgets.Button(description="Cancel", icon="stop", disabled=True,
                                            layout={"visibility": "hidden"})
        self.status = widgets.HTML(message_html("press Compute (or wait for the first layout)", "info"))
        self.scatter = ScatterWidget()
        self.gallery_title = widgets.HTML("")
        self.gallery = ImageGrid()

        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._cancel = threading.Event()
        self._epoch = threading.Event()
        self._job: threading.Thread | None = None
        self._request: str | None = "full"
        self._layout: np.ndarray | None = None
        self._live: np.ndarray | None = None
        self._versions = {"live": 0, "info": 0, "colors": 1, "gallery": 0, "status": 0}
        self._shown = {k: -1 for k in self._versions}
        self._progress: tuple[int, int] | None = None
        self._message = ("", "info")
        self._features: embed.Features | None = None
        self._gallery_items: list[int] = []
        self.last_error: str | None = None
        self.last_duration: float | None = None

        thumbs = thumbnails_of(inputs)
        if thumbs is not None:
            self.scatter.set_thumbnails(thumbs)
        self.scatter.set_info(labels=self._labels, class_names=self._names())
        self.scatter.on_click(self._on_point_click)
        self.scatter.observe(self._on_selected, names="selected")
        self.gallery.on_click(self._on_gallery_click)
        self.layer_select.observe(self._on_choice, names="value")
        self.method_select.observe(self._on_choice, names="value")
        self.color_select.observe(lambda _c: self._bump("colors"), names="value")
        self.compute_button.on_click(lambda _b: self._ask("full"))
        self.cancel_button.on_click(lambda _b: self.cancel())
        self._flag = _EpochFlag(self._epoch)
        session.add_callback(self._flag)
        controls = widgets.HBox([self.layer_select, self.method_select, self.color_select])
        actions = widgets.HBox([self.compute_button, self.auto_refresh, self.progress, self.cancel_button])
        super().__init__(session, children=[controls, actions, self.status, self.scatter,
                                            self.gallery_title, self.gallery])

    # ---- public API -------------------------------------------------------------------------
    @property
    def selected(self) -> list[int]:
        """Indices (into the probe set) of the points the user selected."""
        return list(self.scatter.selected)

    @selected.setter
    def selected(self, indices: list[int]) -> None:
        self.scatter.selected = [int(i) for i in indices]

    @property
    def layout(self) -> np.ndarray | None:
        """The last completed 2-D layout (n, 2), or None before the first."""
        with self._lock:
            return None if self._layout is None else self._layout.copy()

    @property
    def running(self) -> bool:
        job = self._job
        return job is not None and job.is_alive()

    def compute(self, wait: bool = False, timeout: float = 300.0) -> None:
        """Recomputes features and layout now (``wait``: block until done, then show it)."""
        self._start("full")
        if wait:
            self.wait(timeout)

    def wait(self, timeout: float = 300.0) -> None:
        """Blocks until the running (or requested) projection ends, then updates the widgets."""
        with self._lock:
            pending = self._request
        if pending is not None:  # asked for but the pump has not started it yet
            self._start(pending)
        job = self._job
        if job is not None:
            job.join(timeout)
            if job.is_alive():
                raise TimeoutError(f"the projection did not finish in {timeout} s; call explorer.cancel()")
        self.refresh()

    def cancel(self) -> None:
        """Stops a running projection; the previous layout stays."""
        self._cancel.set()

    # ---- observers: validate and set state only ---------------------------------------------
    def _bump(self, key: str) -> None:
        with self._lock:
            self._versions[key] += 1
        self.poke()

    def _ask(self, kind: str) -> None:
        with self._lock:
            self._request = kind
        self.poke()

    def _on_choice(self, _change: Any) -> None:
        self._ask("full")

    def _on_selected(self, _change: Any) -> None:
        self._bump("gallery")

    def _on_point_click(self, index: int) -> None:
        self.context.selection.sample = index

    def _on_gallery_click(self, tile: int) -> None:
        items = self._gallery_items
        if 0 <= tile < len(items):
            self.context.selection.sample = items[tile]

    def _say(self, text: str, kind: str = "info") -> None:
        with self._lock:
            self._message = (text, kind)
            self._versions["status"] += 1

    # ---- the worker -------------------------------------------------------------------------
    def _start(self, kind: str) -> bool:
        with self._lock:
            if self._job is not None and self._job.is_alive():
                return False
            self._request = None
            self._cancel.clear()
            init = self._layout if kind == "refresh" else None
            args = (self.layer_select.value, self.method_select.value, init)
            self._job = threading.Thread(target=self._work, args=args, name="nbviz-embedding", daemon=True)
            self._job.start()
            return True

    def _on_progress(self, iteration: int, total: int, Y: np.ndarray) -> None:
        with self._lock:
            self._live = np.array(Y, dtype=np.float32, copy=True)
            self._versions["live"] += 1
            self._progress = (iteration, total)
        self.poke()

    def _work(self, layer: str, method: str, init: np.ndarray | None) -> None:
        name = METHODS[method]
        stage = "features"
        try:
            self._say(f"computing features of {len(self._inputs)} samples at {layer} ...")
            name_, _, side = layer.partition(":")
            feats = embed.extract_features(self.session, self._inputs, self._targets, layer=name_,
                                           side="input" if side == "input" else "output",
                                           n=len(self._inputs), cancel=self._cancel)
            X = feats.values
            with self._lock:
                self._features = feats
                self._versions["info"] += 1
                self._versions["colors"] += 1
                if method == "tsne":
                    self._progress = (0, 1)
            stage = name
            self._say(f"{name} of {X.shape[0]} x {X.shape[1]} features ...")
            start = time.perf_counter()
            Y = embed.project(X, method, init=init, callback=self._on_progress, cancel=self._cancel)
            duration = time.perf_counter() - start
            Y = np.asarray(Y, dtype=np.float32)
            if Y.shape != (len(self._inputs), 2) or not np.isfinite(Y).all():
                raise ValueError(f"{name} returned an unusable layout (shape {Y.shape}, or NaN values)")
            with self._lock:
                if self._layout is not None:
                    Y = procrustes(Y, self._layout)
                self._layout = self._live = Y
                self._versions["live"] += 1
                self.last_error, self.last_duration = None, duration
            warm = " (warm start)" if init is not None and method != "pca" else ""
            self._say(f"{name}{warm} of {len(Y)} points, {X.shape[1]}-d features at {layer}, "
                      f"step {self.session.step_count}: {duration:.2f} s")
        except Exception as exc:  # noqa: BLE001 - any failure must keep the previous layout
            cancelled = self._cancel.is_set() or isinstance(exc, embed.ProjectionCancelled)
            with self._lock:
                self._live = self._layout
                self._versions["live"] += 1
                self.last_error = None if cancelled else f"{type(exc).__name__}: {exc}"
            kept = "the previous layout is kept" if self._layout is not None else "no layout yet"
            if cancelled:
                self._say(f"{name} cancelled; {kept}.", "warning")
            else:
                self._say(f"{stage} failed: {exc}\n({kept}; pick another layer or method and press Compute)",
                          "error")
        finally:
            with self._lock:
                self._progress = None
            self.poke()

    # ---- the pump -------------------------------------------------------------------------
    def refresh(self) -> None:
        """Starts requested work and pushes what changed to the widgets (pump thread)."""
        with self._refresh_lock:
            if self._epoch.is_set() and self.auto_refresh.value and self._layout is not None:
                if self._start("refresh"):
                    self._epoch.clear()
            if self._request is not None:
                self._start(self._request)
            with self._lock:
                versions = dict(self._versions)
                live, progress, message = self._live, self._progress, self._message
            changed = {k for k, v in versions.items() if v != self._shown[k]}
            self._shown = versions
            with self.scatter.hold_sync():
                if "live" in changed and live is not None:
                    same = self.scatter.n_points == len(live)
                    self.scatter.transition_ms = 250 if progress is not None else 700
                    self.scatter.set_positions(live, animate=same)
                if "info" in changed:
                    self._push_info()
                if "colors" in changed:
                    self._push_colors()
            if "gallery" in changed:
                self._push_gallery()
            running = progress is not None
            with self.progress.hold_sync():
                self.progress.layout.visibility = "visible" if running else "hidden"
                if running:
                    self.progress.value = int(100 * progress[0] / max(progress[1], 1))
            self.cancel_button.disabled = not running
            self.cancel_button.layout.visibility = "visible" if running else "hidden"
            if "status" in changed:
                self.status.value = message_html(*message) if message[0] else ""

    def _names(self) -> list[str]:
        feats = self._features
        top = -1 if feats is None or feats.predictions is None else int(feats.predictions.max(initial=-1))
        k = max(int(self._labels.max(initial=-1)), top) + 1
        if self.class_names:
            return self.class_names + [str(i) for i in range(len(self.class_names), k)]
        return [str(i) for i in range(k)]

    def _predictions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        feats = self._features
        if feats is None or feats.predictions is None or len(feats.predictions) != len(self._labels):
            return None
        loss = feats.loss if feats.loss is not None else np.full(len(self._labels), np.nan, np.float32)
        return feats.predictions, feats.confidence, loss

    def _push_info(self) -> None:
        pred = self._predictions()
        if pred is None:
            self.scatter.set_info(labels=self._labels, class_names=self._names())
        else:
            self.scatter.set_info(labels=self._labels, predictions=pred[0], confidences=pred[1],
                                  losses=pred[2], class_names=self._names())

    def _push_colors(self) -> None:
        colors, note = point_colors(self.color_select.value, self._labels, self._predictions(), self._names())
        self.scatter.set_colors(**colors)
        if note:
            self._say(note, "warning")

    def _push_gallery(self) -> None:
        chosen = self.selected
        shown = chosen[: self.max_gallery]
        self._gallery_items = shown
        more = f" (showing the first {len(shown)})" if len(chosen) > len(shown) else ""
        self.gallery_title.value = (f"<b class='nbviz-selected-count' data-count='{len(chosen)}'>"
                                    f"{len(chosen)} selected</b>{more}" if chosen else "")
        tiles = thumbnails_of(self._inputs[shown]) if shown else None
        if tiles is not None:
            names = self._names()
            labels = [names[k] if 0 <= k < len(names) else "" for k in self._labels[shown]]
            self.gallery.set_tiles(tiles if tiles.shape[-1] != 1 else tiles[..., 0], labels=labels)
        else:
            self.gallery.set_tiles(np.zeros((0, 1, 1), np.uint8), labels=[])

    def close(self) -> None:
        if "session" not in self.__dict__:  # __init__ refused its arguments: nothing to release
            return
        super().close()

    def on_close(self) -> None:
        if hasattr(self, "_flag"):  # absent when __init__ refused its arguments
            self._cancel.set()
            self.session.remove_callback(self._flag)

