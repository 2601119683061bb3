"""The one UI pump per run: the only thread that writes output widgets.

Each tick it asks every registered, active view to refresh; a view decides whether it is
dirty (cheap version checks) and, if so, sets its traits inside ``hold_sync`` so each
widget sends at most one message per tick. Each view also names its own minimum interval,
which is how the dashboard stays under its message budget.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger("nbviz")


class PumpedView(Protocol):
    """What the pump needs of a view."""

    active: bool  # False while hidden (a tab not shown) or closed
    min_interval: float  # seconds between two refreshes of this view

    def tick(self) -> None:
        """Bring the widgets up to date; called from the pump thread only."""


class UiPump:
    """A daemon thread that refreshes registered views at up to ``hz`` ticks per second."""

    def __init__(self, hz: float = 10.0) -> None:
        if not 0 < hz <= 20:
            raise ValueError(f"the UI pump runs at 0-20 Hz, got {hz}")
        self.interval = 1.0 / hz
        self._views: weakref.WeakSet = weakref.WeakSet()
        self._last: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._calls: deque[Callable[[], object]] = deque()
        self.ticks = 0
        self.failures = 0
        self.busy_seconds = 0.0  # time spent refreshing views, for benchmarks

    def register(self, view: PumpedView) -> None:
        with self._lock:
            self._views.add(view)
            self._ensure_thread()
        self._wake.set()

    def call_soon(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` once in the pump thread at its next tick.

        For work a widget observer must not do on its own thread (observers run on the
        kernel's shell and subshell threads): building widgets, writing output widgets.
        """
        with self._lock:
            self._calls.append(fn)
            self._ensure_thread()
        self._wake.set()

    def _ensure_thread(self) -> None:  # with self._lock held
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="nbviz-ui-pump", daemon=True)
            self._thread.start()

    def unregister(self, view: PumpedView) -> None:
        with self._lock:
            self._views.discard(view)

    def views(self) -> list[PumpedView]:
        """The views registered now (a copy)."""
        with self._lock:
            return list(self._views)

    def poke(self) -> None:
        """Refresh soon rather than at the next tick (after a user action)."""
        self._wake.set()

    def tick(self) -> float:
        """Refresh every active view whose interval has passed (the pump thread calls this).

        Returns:
            Seconds until the next view is due (at least the pump's own interval), so the
            thread sleeps instead of waking at the full rate: on a machine whose cores the
            training threads fill, every needless wake-up stalls them.
        """
        started = time.perf_counter()
        with self._lock:
            calls = list(self._calls)
            self._calls.clear()
        for fn in calls:
            try:
                fn()
            except Exception:
                self.failures += 1
                log.exception("nbviz UI call %r failed", fn)
        now = time.monotonic()
        with self._lock:
            views = list(self._views)
        next_due = 1.0
        for view in views:
            if not getattr(view, "active", False):
                continue
            interval = max(getattr(view, "min_interval", 0.0), self.interval)
            wait = interval - (now - self._last.get(view, -1e9))
            if wait > 0:
                next_due = min(next_due, wait)
                continue
            next_due = min(next_due, interval)
            self._last[view] = now
            try:
                view.tick()
            except Exception:  # a broken view must not take the others (or training) down
                self.failures += 1
                log.exception("nbviz view %r failed to refresh", view)
            # hand the GIL over between views: a training thread waiting for it between two
            # ops would otherwise wait for the whole tick (or the 5 ms switch interval)
            time.sleep(0)
        self.ticks += 1
        self.busy_seconds += time.perf_counter() - started
        return max(next_due, self.interval)

    def _loop(self) -> None:
        sleep = self.interval
        while True:
            self._wake.wait(sleep)
            self._wake.clear()
            with self._lock:
                if not self._views and not self._calls:
                    self._thread = None
                    return
            sleep = self.tick()
