"""One front door for projections, and a background job that runs one with progress/cancel."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import ProjectionCancelled, ProjectionError, check_points

METHODS = ("pca", "tsne", "umap")


def project(X: Any, method: str = "pca", *, init: Any = None,
            callback: Callable[[int, int, np.ndarray], Any] | None = None,
            cancel: threading.Event | None = None, seed: int = 0, **options: Any) -> np.ndarray:
    """Lay ``X`` (n, d) out in 2-D with ``method``; returns (n, 2) float32.

    Args:
        method: "pca" (instant), "tsne" (see :class:`nbviz.embed.tsne.TSNE`) or "umap"
            (needs umap-learn).
        init: the previous layout of the same points: t-SNE and UMAP refine it (warm start),
            PCA uses it only to keep the axes' signs from flipping.
        callback: ``callback(iteration, total, layout_copy)`` while it runs.
        cancel: an Event; once set the projection raises :class:`ProjectionCancelled`.
        options: passed to the method (e.g. ``perplexity=30`` for t-SNE).

    Raises:
        ProjectionError: unknown method, bad options or bad input.
    """
    if method not in METHODS:
        raise ProjectionError(f"method must be one of {METHODS}, got {method!r}")
    if method == "pca":
        from .pca import pca

        if options:
            raise ProjectionError(f"PCA takes no options, got {sorted(options)}")
        Y = pca(X, reference=init)
        if callback is not None:
            callback(1, 1, Y.copy())
        return Y
    if method == "tsne":
        from .tsne import TSNE

        try:
            tsne = TSNE(seed=seed, **options)
        except TypeError as exc:
            raise ProjectionError(f"bad t-SNE option: {exc}") from None
        return tsne.fit(X, init=init, callback=callback, cancel=cancel)
    from .umap import umap_layout

    try:
        return umap_layout(X, init=init, seed=seed, callback=callback, cancel=cancel, **options)
    except TypeError as exc:
        raise ProjectionError(f"bad UMAP option: {exc}") from None


class ProjectionJob:
    """Runs projections in a background thread; keeps the last good layout.

    Starting a job cancels the one still running. A failed or cancelled run leaves
    :attr:`layout` as it was and records :attr:`error`. ``on_update(job)`` is called from the
    worker thread whenever something changed (progress, partial layout, end); use it only to
    mark a view dirty, and read :meth:`snapshot` from the UI thread.

    Example:
        >>> job = ProjectionJob()                                   # doctest: +SKIP
        >>> job.start(features, "tsne", warm=True)  # warm start from the last t-SNE  # doctest: +SKIP
        >>> state, progress, layout, error, version = job.snapshot()  # doctest: +SKIP
    """

    def __init__(self, on_update: Callable[[ProjectionJob], Any] | None = None) -> None:
        self.on_update = on_update
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self.state = "idle"  # idle | running | done | cancelled | failed
        self.method: str | None = None
        self.progress = 0.0
        self.layout: np.ndarray | None = None  # last finished layout
        self.layout_method: str | None = None  # the method that made it
        self.partial: np.ndarray | None = None  # the running optimisation's latest layout
        self.error: str | None = None
        self.traceback: str | None = None
        self.version = 0  # bumped on every change

    def start(self, X: Any, method: str = "tsne", init: Any = None, warm: bool = False,
              **options: Any) -> None:
        """Start a projection of ``X`` (cancelling any running one); returns at once.

        Args:
            init: a layout to start from (see :func:`project`).
            warm: start from the last finished layout when it came from the same method
                and has one row per point of ``X`` (the per-epoch refresh); otherwise a
                fresh run.

        Input is checked here, so bad data raises :class:`ProjectionError` in the caller.
        """
        X = check_points(X, min_points=1)
        if method not in METHODS:
            raise ProjectionError(f"method must be one of {METHODS}, got {method!r}")
        self.cancel(wait=True)
        if warm and init is None and self.layout is not None \
                and self.layout_method == method and len(self.layout) == len(X):
            init = self.layout
        cancel = threading.Event()
        with self._lock:
            self._cancel = cancel
            self.state, self.method, self.progress, self.error = "running", method, 0.0, None
            self.traceback, self.partial = None, None
            self.version += 1
        self._thread = threading.Thread(target=self._run, args=(X, method, init, options, cancel),
                                        name=f"nbviz-{method}", daemon=True)
        self._thread.start()
        self._notify()

    def cancel(self, wait: bool = False, timeout: float | None = 10.0) -> None:
        """Ask the running projection to stop (it ends within one iteration)."""
        self._cancel.set()
        thread = self._thread
        if wait and thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current run ends; True when it has."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    @property
    def running(self) -> bool:
        return self.state == "running"

    def snapshot(self) -> tuple[str, float, np.ndarray | None, str | None, int]:
        """(state, progress 0-1, layout to show, error, version), consistent with each other.

        The layout is the partial one while running, else the last finished one.
        """
        with self._lock:
            shown = self.partial if self.state == "running" and self.partial is not None \
                else self.layout
            return self.state, self.progress, shown, self.error, self.version

    def _run(self, X: np.ndarray, method: str, init: Any, options: dict[str, Any],
             cancel: threading.Event) -> None:
        def callback(iteration: int, total: int, Y: np.ndarray) -> None:
            with self._lock:
                if cancel is not self._cancel:
                    return
                self.progress, self.partial = iteration / max(total, 1), Y
                self.version += 1
            self._notify()

        try:
            Y = project(X, method, init=init, callback=callback, cancel=cancel, **options)
        except ProjectionCancelled:
            self._finish(cancel, "cancelled", None, "cancelled", None)
        except Exception as exc:  # the view shows it; the previous layout stays
            message = f"{method} failed: {exc}"
            self._finish(cancel, "failed", None, message, traceback.format_exc())
        else:
            self._finish(cancel, "done", Y, None, None)

    def _finish(self, cancel: threading.Event, state: str, layout: np.ndarray | None,
                error: str | None, tb: str | None) -> None:
        with self._lock:
            if cancel is not self._cancel:  # a newer run has taken over
                return
            self.state, self.error, self.traceback, self.partial = state, error, tb, None
            if layout is not None:
                self.layout, self.layout_method, self.progress = layout, self.method, 1.0
            self.version += 1
        self._notify()

    def _notify(self) -> None:
        if self.on_update is not None:
            try:
                self.on_update(self)
            except Exception:  # a broken listener must not kill the job
                pass
