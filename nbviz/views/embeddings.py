"""EmbeddingExplorer: a live 2-D map (PCA, t-SNE, UMAP) of a layer's features for the probe set.

Features come from any layer (default: the input of the last Linear) for up to 100k probe
samples. One background path does the work: a :class:`nbviz.embed.ProjectionJob` whose thread
first computes the features, one chunk per training batch boundary under the probe guarantees
(:func:`nbviz.embed.extract_features`), then projects them, reporting progress (the scatter
animates while t-SNE optimises) and stopping on Cancel. After each training epoch the layout is
recomputed, warm-started from the previous one and aligned to it, so points move instead of
jumping; a failed or cancelled run keeps the last good layout. Hovering a point shows its image,
label, prediction and confidence in the browser; a box or lasso selection comes back as
``explorer.selected`` and is shown as a gallery; clicking a point selects that sample for the
other views (``self.context.selection.sample``).

Example:
    >>> explorer = nbviz.EmbeddingExplorer(session, n_samples=2000, method="tsne")
    >>> explorer.compute(wait=True)
    >>> explorer.coordinates.shape, explorer.selected
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import numpy as np
import traitlets

from .. import embed
from ..widgets import guarded
from ..widgets.image_grid import ImageGrid
from ..widgets.scatter import ScatterWidget
from .base import LiveView, check_session, message_html
from .embeddings_data import (
    check_probe_memory,
    layer_options,
    point_colors,
    split_layer,
    thumbnails_of,
)
from .links import ControlLink

METHODS = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
COLOR_BY = {"label": "true label", "prediction": "predicted label", "correct": "correct / wrong", "loss": "loss"}
MAX_SAMPLES = 100_000
IDLE_TEXT = "press Compute (or wait for the first layout)"


def available_methods() -> list[str]:
    """Projection methods usable here (UMAP only when umap-learn is installed)."""
    return [m for m in METHODS if m != "umap" or embed.umap_available()]


def check_method(method: object) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    if method not in available_methods():
        raise ValueError("UMAP needs umap-learn: pip install 'nbviz[umap]' (or use 'pca' or 'tsne')")
    return str(method)


def check_color_by(color_by: object) -> str:
    if color_by not in COLOR_BY:
        raise ValueError(f"color_by must be one of {list(COLOR_BY)}, got {color_by!r}")
    return str(color_by)


def check_layer(layer: object, values: list[str]) -> str:
    if layer not in values:
        more = " ..." if len(values) > 8 else ""
        raise ValueError(f"unknown layer {layer!r}; choose one of {values[:8]}{more}")
    return str(layer)


class _EpochFlag:
    """Training-thread callback: only flags that an epoch ended and wakes the pump."""

    def __init__(self, event: threading.Event, wake: Callable[[], None]) -> None:
        self.event, self.wake = event, wake

    def on_epoch_end(self, run: Any) -> None:
        self.event.set()
        self.wake()


class EmbeddingExplorer(LiveView):
    """Scatter of the probe set's features, projected to 2-D, live across training.

    The view's state is its traits ``layer``, ``method``, ``color_by`` and
    ``refresh_each_epoch`` (validated; linked to the controls). The last finished layout is
    :attr:`coordinates`; :attr:`job` is the background :class:`nbviz.embed.ProjectionJob`.

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
        TypeError: ``session`` is not a run.
        ValueError: a bad argument, or a probe set that would not fit in memory (the
            message gives the size it needs).
    """

    min_interval = 0.2

    layer = traitlets.Unicode(help="'name' (a module's output) or 'name:input' (its input)")
    method = traitlets.Unicode("pca", help="pca, tsne or umap")
    color_by = traitlets.Unicode("label", help="label, prediction, correct or loss")
    refresh_each_epoch = traitlets.Bool(True, help="recompute, warm-started, after each epoch")

    def __init__(self, session: Any, n_samples: int = 2000, layer: str | None = None,
                 method: str = "pca", color_by: str = "label", refresh_each_epoch: bool = True,
                 class_names: list[str] | None = None, max_gallery: int = 120) -> None:
        # arguments first: a refusal leaves nothing behind (no widget, no pump registration)
        check_session(session)
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or not 3 <= n_samples <= MAX_SAMPLES:
            raise ValueError(f"n_samples must be an int in 3..{MAX_SAMPLES}, got {n_samples!r}")
        check_method(method)
        check_color_by(color_by)
        if isinstance(max_gallery, bool) or not isinstance(max_gallery, int) or max_gallery < 0:
            raise ValueError(f"max_gallery must be a whole number >= 0, got {max_gallery!r}")
        options = layer_options(session.model)
        if not options:
            raise ValueError("the model has no submodules to take features from")
        values = [value for _, value in options]
        layer = check_layer(values[0] if layer is None else layer, values)
        first, _ = session.probe_batch(1)
        check_probe_memory(n_samples, tuple(first.shape[1:]), first.element_size())
        inputs, targets = session.probe_batch(n_samples)

        super().__init__(session)
        try:
            self._setup(options, inputs, targets, layer, method, color_by, refresh_each_epoch,
                        class_names, max_gallery)
        except BaseException:
            self.close()
            raise

    def _setup(self, options: list[tuple[str, str]], inputs: Any, targets: Any, layer: str,
               method: str, color_by: str, refresh_each_epoch: bool,
               class_names: list[str] | None, max_gallery: int) -> None:
        self._inputs, self._targets = inputs, targets
        self._labels = (targets.long().numpy() if targets.dim() == 1 and not targets.is_floating_point()
                        else np.full(len(inputs), -1, np.int64))
        self._layer_values = [value for _, value in options]
        self.class_names = list(class_names) if class_names else None
        self.max_gallery = max_gallery
        self._lock = threading.Lock()  # guards the small state below, never held while working
        self._refresh_lock = threading.RLock()  # one refresh at a time (pump, wait())
        self._start_lock = threading.Lock()  # one start at a time
        self._epoch = threading.Event()
        self._request: str | None = "full"  # the first layout, started by the first tick
        self._running_layer = layer
        self._versions = {"colors": 1, "gallery": 0, "info": 0}
        self._shown = {k: -1 for k in self._versions}
        self._job_seen = -1
        self._shown_positions: np.ndarray | None = None
        self._features: embed.Features | None = None
        self._gallery_items: list[int] = []
        self._job_text = (IDLE_TEXT, "info")
        self._color_note = ""
        self.last_error: str | None = None
        self.last_duration: float | None = None
        self.job = embed.ProjectionJob(on_update=lambda _job: self.poke())

        self.layer, self.method, self.color_by = layer, method, color_by
        self.refresh_each_epoch = bool(refresh_each_epoch)
        self.layer_select = guarded.Dropdown(options=options, value=layer, description="features")
        self.method_select = guarded.ToggleButtons(
            options=[(METHODS[m], m) for m in available_methods()], value=method,
            style={"button_width": "64px"})
        self.color_select = guarded.Dropdown(options=[(v, k) for k, v in COLOR_BY.items()], value=color_by,
                                             description="colour by")
        self.auto_refresh = guarded.Checkbox(value=self.refresh_each_epoch, description="refresh each epoch",
                                             indent=False)
        self._links = [self._link(self.layer_select, "layer"), self._link(self.method_select, "method"),
                       self._link(self.color_select, "color_by"),
                       self._link(self.auto_refresh, "refresh_each_epoch")]
        self.compute_button = widgets.Button(description="Compute", icon="refresh")
        self.progress = widgets.IntProgress(0, 0, 100, description="t-SNE", layout={"visibility": "hidden"})
        self.cancel_button = widgets.Button(description="Cancel", icon="stop", disabled=True,
                                            layout={"visibility": "hidden"})
        self.status = widgets.HTML(message_html(IDLE_TEXT, "info"))
        self.scatter = ScatterWidget()
        self.gallery_title = widgets.HTML("")
        self.gallery = ImageGrid()

        thumbs = thumbnails_of(inputs)
        if thumbs is not None:
            self.scatter.set_thumbnails(thumbs)
        self.scatter.set_info(labels=self._labels, class_names=self._names())
        self.scatter.on_click(self._on_point_click)
        self.scatter.observe(self._on_selected, names="selected")
        self.gallery.on_click(self._on_gallery_click)
        self.observe(self._on_choice, names=["layer", "method"])
        self.observe(self._on_color, names="color_by")
        self.observe(lambda _c: self.poke(), names="refresh_each_epoch")
        self.compute_button.on_click(lambda _b: self._ask("full"))
        self.cancel_button.on_click(lambda _b: self.cancel())
        self._flag = _EpochFlag(self._epoch, self.context.pump.poke)
        self.session.add_callback(self._flag)
        self.children = [widgets.HBox([self.layer_select, self.method_select, self.color_select]),
                         widgets.HBox([self.compute_button, self.auto_refresh, self.progress, self.cancel_button]),
                         self.status, self.scatter, self.gallery_title, self.gallery]

    # ---- validated state ----------------------------------------------------------------------
    def _link(self, control: Any, name: str) -> Callable[[], None]:
        """Keep ``control.value`` and the trait ``name`` equal across threads; returns the unlink."""
        return ControlLink(control, self, name, self.context.state_lock).unlink

    @traitlets.validate("layer")
    def _valid_layer(self, proposal: traitlets.Bunch) -> str:
        try:
            return check_layer(proposal["value"], self._layer_values)
        except ValueError as exc:
            raise traitlets.TraitError(str(exc)) from None

    @traitlets.validate("method")
    def _valid_method(self, proposal: traitlets.Bunch) -> str:
        try:
            return check_method(proposal["value"])
        except ValueError as exc:
            raise traitlets.TraitError(str(exc)) from None

    @traitlets.validate("color_by")
    def _valid_color_by(self, proposal: traitlets.Bunch) -> str:
        try:
            return check_color_by(proposal["value"])
        except ValueError as exc:
            raise traitlets.TraitError(str(exc)) from None

    # ---- public API -------------------------------------------------------------------------
    @property
    def selected(self) -> list[int]:
        """Indices (into the probe set) of the points the user selected."""
        return list(self.scatter.selected)

    @selected.setter
    def selected(self, indices: list[int]) -> None:
        self.scatter.selected = [int(i) for i in indices]

    @property
    def coordinates(self) -> np.ndarray | None:
        """The last completed 2-D layout (n, 2) float32, or None before the first."""
        layout = self.job.layout
        return None if layout is None else layout.copy()

    @property
    def running(self) -> bool:
        """True while features or a layout are being computed."""
        return self.job.running

    def compute(self, wait: bool = False, timeout: float = 300.0) -> None:
        """Recomputes features and layout now, cancelling a running computation.

        Args:
            wait: block until done (and the widgets show it).
            timeout: seconds to wait at most.

        Raises:
            TimeoutError: ``wait`` and not done within ``timeout``.
        """
        self._ask("full")
        self._start_pending(include_epoch=False)
        if wait:
            self.wait(timeout)

    def wait(self, timeout: float = 300.0) -> None:
        """Blocks until the running (or requested) computation ends, then updates the widgets.

        Once training is over, a refresh still owed for the last epoch is run too.

        Raises:
            TimeoutError: not done within ``timeout`` seconds (``cancel()`` stops it).
        """
        deadline = time.monotonic() + timeout
        while not self._closed:  # a closed view starts nothing: nothing to wait for
            epoch = not self.session.loop_active
            self._start_pending(include_epoch=epoch)
            if not self.job.wait(max(0.0, deadline - time.monotonic())) or \
                    (time.monotonic() > deadline and (self.job.running or self._pending(epoch))):
                raise TimeoutError(f"the projection did not finish in {timeout} s; call explorer.cancel()")
            if not self.job.running and not self._pending(include_epoch=epoch):
                break
        self.refresh()

    def cancel(self) -> None:
        """Stops the running computation (and any requested one); the previous layout stays."""
        with self._lock:
            self._request = None
        self.job.cancel()
        self.poke()

    # ---- observers: validate and set state only ---------------------------------------------
    def _ask(self, kind: str) -> None:
        with self._lock:
            self._request = kind
        self.poke()

    def _bump(self, key: str) -> None:
        with self._lock:
            self._versions[key] += 1
        self.poke()

    def _on_choice(self, _change: Any) -> None:
        self._ask("full")

    def _on_color(self, _change: Any) -> None:
        self._bump("colors")

    def _on_selected(self, _change: Any) -> None:
        self._bump("gallery")

    def _on_point_click(self, index: int) -> None:
        self.context.selection.sample = index

    def _on_gallery_click(self, tile: int) -> None:
        items = self._gallery_items
        if 0 <= tile < len(items):
            self.context.selection.sample = items[tile]

    # ---- starting work (one background path: the projection job) ------------------------------
    def _pending(self, include_epoch: bool) -> bool:
        with self._lock:
            if self._request is not None:
                return True
        return include_epoch and self._epoch_due()

    def _epoch_due(self) -> bool:
        return (self._epoch.is_set() and self.refresh_each_epoch and self.job.layout is not None
                and not self.job.running)

    def _start_pending(self, include_epoch: bool = True) -> bool:
        """Start the requested computation, or the refresh owed for an epoch; True if started."""
        with self._start_lock:
            if self._closed:
                return False
            with self._lock:
                kind, self._request = self._request, None
            if kind is None and include_epoch and self._epoch_due():
                kind = "refresh"
            if kind is None:
                return False
            self._epoch.clear()  # any new computation shows the model as it is now
            layer, method = self.layer, self.method  # validated traits
            module, side = split_layer(layer)
            session, inputs, targets = self.session, self._inputs, self._targets

            def features(cancel: threading.Event, report: Callable[[float], None]) -> embed.Features:
                return embed.extract_features(session, inputs, targets, layer=module, side=side,
                                              n=len(inputs), cancel=cancel,
                                              progress=lambda done, total: report(done / total))

            with self._lock:
                self._running_layer = layer
            self.job.start(features, method, warm=kind == "refresh", align=True)
            return True

    # ---- the pump -------------------------------------------------------------------------
    def refresh(self) -> None:
        """Starts requested work and pushes what changed to the widgets (pump thread)."""
        with self._refresh_lock:
            if self._closed:
                return
            self._start_pending()
            status = self.job.status()
            with self._lock:
                versions = dict(self._versions)
            changed = {k for k, v in versions.items() if v != self._shown[k]}
            self._shown = versions
            if status.data is not None and status.data is not self._features:
                self._features = status.data
                changed |= {"info", "colors"}
            with self.scatter.hold_sync():
                shown = status.shown
                if shown is not None and shown is not self._shown_positions:
                    self._shown_positions = shown
                    self.scatter.transition_ms = 250 if status.state == "running" else 700
                    self.scatter.set_positions(shown, animate=self.scatter.n_points == len(shown))
                if "info" in changed:
                    self._push_info()
                if "colors" in changed:
                    self._push_colors()
            if "gallery" in changed:
                self._push_gallery()
            if status.version != self._job_seen:
                self._job_seen = status.version
                self._push_job(status)
            text, kind = self._job_text
            if self._color_note:
                text, kind = f"{text}\n{self._color_note}", "warning" if kind == "info" else kind
            self.status.value = message_html(text, kind)

    def _push_job(self, status: embed.JobStatus) -> None:
        running = status.state == "running"
        with self.progress.hold_sync():
            self.progress.layout.visibility = "visible" if running else "hidden"
            if running:
                self.progress.value = int(100 * status.progress)
                self.progress.description = _progress_label(status)
        self.cancel_button.disabled = not running
        self.cancel_button.layout.visibility = "visible" if running else "hidden"
        if status.state == "done":
            self.last_error, self.last_duration = None, status.duration
        elif status.state == "failed":
            self.last_error = f"{status.error_type}: {status.reason}"
        elif status.state == "cancelled":
            self.last_error = None
        self._job_text = self._describe(status)

    def _describe(self, status: embed.JobStatus) -> tuple[str, str]:
        name = METHODS.get(status.method or "", "layout")
        kept = "the previous layout is kept" if status.layout is not None else "no layout yet"
        if status.state == "running":
            if status.stage == "prepare":
                return f"computing features of {len(self._inputs)} samples at {self._running_layer} ...", "info"
            n, d = status.shape or (len(self._inputs), 0)
            return f"{name} of {n} x {d} features ...", "info"
        if status.state == "done" and status.layout is not None:
            feats = status.data
            where = f"{feats.layer}:input" if feats is not None and feats.side == "input" else \
                getattr(feats, "layer", "?")
            dims = feats.values.shape[1] if feats is not None else 0
            warm = " (warm start)" if status.warm and status.method != "pca" else ""
            return (f"{name}{warm} of {len(status.layout)} points, {dims}-d features at {where}, "
                    f"step {self.session.step_count}: {status.duration or 0.0:.2f} s"), "info"
        if status.state == "cancelled":
            return f"{name} cancelled; {kept}.", "warning"
        if status.state == "failed":
            what = "features" if status.stage == "prepare" else name
            return (f"{what} failed: {status.reason}\n({kept}; pick another layer or method and "
                    "press Compute)"), "error"
        return IDLE_TEXT, "info"

    def _names(self) -> list[str]:
        feats = self._features
        top = -1 if feats is None or feats.predictions is None else int(feats.predictions.max(initial=-1))
        k = max(int(self._labels.max(initial=-1)), top) + 1
        if self.class_names:
            return self.class_names + [str(i) for i in range(len(self.class_names), k)]
        return [str(i) for i in range(k)]

    def _predictions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        feats = self._features
        if feats is None or feats.predictions is None or feats.confidence is None \
                or len(feats.predictions) != len(self._labels):
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
        colors, note = point_colors(self.color_by, self._labels, self._predictions(), self._names())
        self.scatter.set_colors(**colors)
        self._color_note = note

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

    def on_close(self) -> None:
        flag = getattr(self, "_flag", None)
        if flag is not None:
            self.session.remove_callback(flag)
        for unlink in getattr(self, "_links", []):
            unlink()
        job = getattr(self, "job", None)
        if job is not None:
            with self._start_lock:  # a start in progress finishes first, then is cancelled
                job.cancel()
            job.cancel(wait=True)


def _progress_label(status: embed.JobStatus) -> str:
    """What the progress bar is measuring now: features, a t-SNE preparation step, or layout."""
    if status.stage == "prepare":
        return "features"
    if status.step in ("neighbours", "affinities"):
        return status.step
    return METHODS.get(status.method or "", "layout")
