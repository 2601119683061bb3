"""One front door for projections, and the one background job that runs them (progress, cancel,
warm start, alignment to the previous layout)."""

from __future__ import annotations

import atexit
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .align import procrustes
from .errors import ProjectionCancelled, ProjectionError, check_points

METHODS = ("pca", "tsne", "umap")
#: ``prepare(cancel, report)``: makes the points in the job's thread (e.g. a layer's features,
#: computed at the training loop's batch boundaries); ``report(fraction)`` shows progress.
Prepare = Callable[[threading.Event, Callable[[float], None]], Any]


def project(X: Any, method: str = "pca", *, init: Any = None,
            callback: Callable[[int, int, np.ndarray], Any] | None = None,
            cancel: threading.Event | None = None, seed: int = 0, **options: Any) -> np.ndarray:
    """Lay ``X`` (n, d) out in 2-D with ``method``; returns (n, 2) float32.

    Args:
        method: "pca" (instant), "tsne" (see :class:`nbviz.embed.tsne.TSNE`) or "umap"
            (needs umap-learn).
        init: the previous layout of the same points: t-SNE and UMAP refine it (warm start),
            PCA uses it only to keep the axes' signs from flipping.
        callback: ``callback(iteration, total, layout_copy)`` while it runs. If it also has
            a ``stage(name, fraction)`` method (see :class:`StagedCallback`), t-SNE tells it
            about the stages before the first iteration: "neighbours" (0-1 during the
            neighbour search, the longest of them) and "affinities".
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
        return tsne.fit(X, init=init, callback=callback, cancel=cancel,
                        progress=getattr(callback, "stage", None))
    from .umap import umap_layout

    try:
        return umap_layout(X, init=init, seed=seed, callback=callback, cancel=cancel, **options)
    except TypeError as exc:
        raise ProjectionError(f"bad UMAP option: {exc}") from None


class StagedCallback:
    """A projection callback that also hears about the stages before the iterations.

    ``on_frame(iteration, total, layout)`` per frame, ``on_stage(name, fraction)`` per stage
    update (t-SNE: "neighbours" 0-1, then "affinities").
    """

    def __init__(self, on_frame: Callable[[int, int, np.ndarray], Any],
                 on_stage: Callable[[str, float], Any]) -> None:
        self.on_frame, self.stage = on_frame, on_stage

    def __call__(self, iteration: int, total: int, Y: np.ndarray) -> None:
        self.on_frame(iteration, total, Y)


#: the share of a t-SNE job's progress bar given to the stages before the iterations
#: (the neighbour search: about a fifth of the time at 100k points)
STAGE_SHARE = 0.2

_jobs: weakref.WeakSet[ProjectionJob] = weakref.WeakSet()


@atexit.register
def _cancel_jobs_at_exit() -> None:
    """Stop every job's threads before the interpreter kills daemon threads mid-computation
    (a thread killed inside native code can abort the process at exit)."""
    deadline = time.monotonic() + 2.0
    for job in list(_jobs):
        job.cancel(wait=True, timeout=max(0.0, deadline - time.monotonic()))


@dataclass(frozen=True)
class JobStatus:
    """A consistent view of a :class:`ProjectionJob`, read in one go (see ``job.status()``).

    Attributes:
        state: "idle", "running", "done", "cancelled" or "failed".
        stage: what the run is (or was, when it failed) doing: "prepare" (making the points)
            or "project".
        method: the method of the current (or last) run.
        progress: 0-1 within the stage.
        shown: the layout to draw: the running optimisation's latest while it has one, else
            the last finished layout.
        layout, layout_method, data: the last finished layout, its method, and what
            ``prepare`` returned for it (None when the points were given as an array).
        error, reason, error_type: the failure ("t-SNE failed: ..."), its bare message and
            exception type, when state is "failed".
        warm: the current (or last) run started from a previous layout.
        duration: seconds the last finished projection took.
        shape: (n, d) of the points being (or last) projected, once known.
        version: bumped on every change.
        step: what the projection stage is doing now: "neighbours" or "affinities" (t-SNE's
            preparation, reported in the first :data:`STAGE_SHARE` of ``progress``),
            "optimise", or "" when not known.
    """

    state: str
    stage: str
    method: str | None
    progress: float
    shown: np.ndarray | None
    layout: np.ndarray | None
    layout_method: str | None
    data: Any
    error: str | None
    reason: str | None
    error_type: str | None
    warm: bool
    duration: float | None
    shape: tuple[int, int] | None
    version: int
    step: str = ""


class ProjectionJob:
    """Runs projections in one background thread at a time; keeps the last good layout.

    Starting a run cancels the one still running (without waiting for it: its result is
    ignored). A failed or cancelled run leaves :attr:`layout` as it was and records
    :attr:`error`. ``on_update(job)`` is called from the worker thread whenever something
    changed (progress, partial layout, end); use it only to mark a view dirty, and read
    :meth:`status` (or :meth:`snapshot`) from the UI thread.

    The points are an array, or a ``prepare(cancel, report)`` callable run first in the job's
    thread (so a view computes features and projects them on one background path, with one
    cancel and one progress).

    Example:
        >>> job = ProjectionJob()                                   # doctest: +SKIP
        >>> job.start(features, "tsne", warm=True)  # warm start from the last t-SNE  # doctest: +SKIP
        >>> state, progress, layout, error, version = job.snapshot()  # doctest: +SKIP
    """

    def __init__(self, on_update: Callable[[ProjectionJob], Any] | None = None) -> None:
        self.on_update = on_update
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._threads: list[threading.Thread] = []
        self._cancel = threading.Event()
        self.state = "idle"  # idle | running | done | cancelled | failed
        self.stage = ""
        self.method: str | None = None
        self.progress = 0.0
        self.layout: np.ndarray | None = None  # last finished layout
        self.layout_method: str | None = None  # the method that made it
        self.data: Any = None  # what prepare() returned for it
        self.partial: np.ndarray | None = None  # the running optimisation's latest layout
        self.error: str | None = None
        self.reason: str | None = None
        self.error_type: str | None = None
        self.traceback: str | None = None
        self.warm = False
        self.duration: float | None = None
        self.shape: tuple[int, int] | None = None
        self.version = 0  # bumped on every change
        self.step = ""  # inside the "project" stage: neighbours | affinities | optimise
        _jobs.add(self)

    def start(self, X: Any, method: str = "tsne", init: Any = None, warm: bool = False,
              align: bool = False, **options: Any) -> None:
        """Start a projection of ``X`` (cancelling any running one); returns at once.

        Args:
            X: the points (n, d), or a ``prepare(cancel, report)`` callable that returns
                them (or an object whose ``values`` are them, e.g. ``Features``).
            init: a layout to start from (see :func:`project`).
            warm: start from the last finished layout when it came from the same method
                and has one row per point (the per-epoch refresh); otherwise a fresh run.
            align: rotate/reflect the finished layout to best match the previous one
                (:func:`procrustes`), so a refresh moves points instead of flipping them.

        Raises:
            ProjectionError: an unknown method, or points given as an array that are not
                usable (prepared points are checked in the thread; a failure there ends the
                run as "failed").
        """
        if method not in METHODS:
            raise ProjectionError(f"method must be one of {METHODS}, got {method!r}")
        prepare: Prepare | None = X if callable(X) else None
        if prepare is None:
            X = check_points(X, min_points=1)
        cancel = threading.Event()
        with self._lock:
            self._cancel.set()  # the running run (if any) stops within one iteration
            self._cancel = cancel
            self.state, self.method, self.progress, self.error = "running", method, 0.0, None
            self.reason = self.error_type = self.traceback = None
            self.partial, self.warm, self.step = None, False, ""
            self.stage = "prepare" if prepare is not None else "project"
            self.shape = None if prepare is not None else (int(X.shape[0]), int(X.shape[1]))
            self.version += 1
            thread = threading.Thread(target=self._run, name=f"nbviz-{method}", daemon=True,
                                      args=(X, prepare, method, init, warm, align, options, cancel))
            self._thread = thread
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()
        self._notify()

    def cancel(self, wait: bool = False, timeout: float | None = 10.0) -> None:
        """Ask the running projection to stop (it ends within one iteration).

        Args:
            wait: also wait (up to ``timeout`` seconds in all) for every thread this job
                started to end.
        """
        with self._lock:
            self._cancel.set()
            threads = list(self._threads)
        if not wait:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current run ends; True when it has."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            return not thread.is_alive()
        return True

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def threads_alive(self) -> int:
        """Worker threads of this job still running (a cancelled one winds down briefly)."""
        with self._lock:
            return sum(t.is_alive() for t in self._threads)

    def status(self) -> JobStatus:
        """Everything about the job, consistent with itself (see :class:`JobStatus`)."""
        with self._lock:
            shown = self.partial if self.state == "running" and self.partial is not None \
                else self.layout
            return JobStatus(self.state, self.stage, self.method, self.progress, shown, self.layout,
                             self.layout_method, self.data, self.error, self.reason,
                             self.error_type, self.warm, self.duration, self.shape, self.version,
                             self.step)

    def snapshot(self) -> tuple[str, float, np.ndarray | None, str | None, int]:
        """(state, progress 0-1, layout to show, error, version), consistent with each other.

        The layout is the partial one while running, else the last finished one.
        """
        status = self.status()
        return status.state, status.progress, status.shown, status.error, status.version

    # ---- the worker thread ----------------------------------------------------------------------
    def _current(self, cancel: threading.Event) -> bool:
        return cancel is self._cancel and not cancel.is_set()

    def _run(self, X: Any, prepare: Prepare | None, method: str, init: Any, warm: bool,
             align: bool, options: dict[str, Any], cancel: threading.Event) -> None:
        def report(fraction: float) -> None:
            with self._lock:
                if not self._current(cancel):
                    return
                self.progress = min(max(float(fraction), 0.0), 1.0)
                self.version += 1
            self._notify()

        staged = [False]  # the projection reported stages: its iterations fill the rest

        def on_frame(iteration: int, total: int, Y: np.ndarray) -> None:
            fraction = iteration / max(total, 1)
            if staged[0]:
                fraction = STAGE_SHARE + (1.0 - STAGE_SHARE) * fraction
            with self._lock:
                if not self._current(cancel):
                    return
                self.progress, self.partial, self.step = fraction, Y, "optimise"
                self.version += 1
            self._notify()

        def on_stage(name: str, fraction: float) -> None:
            staged[0] = True
            with self._lock:
                if not self._current(cancel):
                    return
                self.step = name
                self.progress = STAGE_SHARE * (1.0 if name != "neighbours"
                                               else min(max(float(fraction), 0.0), 1.0))
                self.version += 1
            self._notify()

        callback = StagedCallback(on_frame, on_stage)

        stage, data = "prepare" if prepare is not None else "project", None
        try:
            if prepare is not None:
                data = prepare(cancel, report)
                if cancel.is_set():
                    raise ProjectionCancelled("cancelled while preparing the points")
                X = check_points(getattr(data, "values", data), min_points=1, name="the points")
            stage = "project"
            with self._lock:
                if not self._current(cancel):
                    raise ProjectionCancelled("a newer run took over")
                if warm and init is None and self.layout is not None \
                        and self.layout_method == method and len(self.layout) == len(X):
                    init = self.layout
                self.stage, self.progress, self.warm = "project", 0.0, init is not None
                self.shape = (int(X.shape[0]), int(X.shape[1]))
                self.version += 1
            self._notify()
            started = time.perf_counter()
            Y = np.asarray(project(X, method, init=init, callback=callback, cancel=cancel, **options),
                           dtype=np.float32)
            duration = time.perf_counter() - started
            if Y.shape != (len(X), 2) or not np.isfinite(Y).all():
                raise ProjectionError(f"{method} returned an unusable layout (shape {Y.shape}, "
                                      "or NaN values)")
        except ProjectionCancelled:
            self._finish(cancel, "cancelled", stage, error=None)
        except Exception as exc:  # the view shows it; the previous layout stays
            what = f"{method}" if stage == "project" else "preparing the points"
            self._finish(cancel, "failed", stage, error=f"{what} failed: {exc}", reason=str(exc),
                         error_type=type(exc).__name__, tb=traceback.format_exc())
        else:
            self._finish(cancel, "done", stage, error=None, layout=Y, data=data, duration=duration,
                         align=align)

    def _finish(self, cancel: threading.Event, state: str, stage: str, error: str | None,
                reason: str | None = None, error_type: str | None = None, tb: str | None = None,
                layout: np.ndarray | None = None, data: Any = None, duration: float | None = None,
                align: bool = False) -> None:
        with self._lock:
            if cancel is not self._cancel:  # a newer run has taken over
                return
            self.state, self.stage, self.error, self.traceback = state, stage, error, tb
            self.reason, self.error_type, self.partial = reason, error_type, None
            if layout is not None:
                if align and self.layout is not None:
                    layout = procrustes(layout, self.layout)
                self.layout, self.layout_method, self.progress = layout, self.method, 1.0
                self.data, self.duration = data, duration
            self.version += 1
        self._notify()

    def _notify(self) -> None:
        if self.on_update is not None:
            try:
                self.on_update(self)
            except Exception:  # a broken listener must not kill the job
                pass
