"""The one UI pump per run: the only thread that writes output widgets.

Each tick it asks every registered, active view to refresh; a view decides whether it is
dirty (cheap version checks) and, if so, sets its traits inside ``hold_sync`` so each
widget sends at most one message per tick. Each view also names its own minimum interval,
which is how the dashboard stays under its message budget.

Every wake-up takes the GIL (and a core) from the training threads, so the pump wakes as
rarely as the views allow: a view of interval T refreshes at multiples of T on the
monotonic clock (:func:`on_grid`), so views of equal or multiple intervals share wake-ups
(a 0.25 s and two 0.5 s views wake the pump 4 times a second, not up to 8), and a view poked
with :meth:`UiPump.poke` ``(view)`` (a user's click) refreshes at once instead of waiting for
its interval.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger("nbviz")
EARLY = 0.002  # a view due this soon is refreshed now (a timed wait may end a little early)


def on_grid(last: float, period: float) -> float:
    """When a view refreshed at ``last`` is next due: the first multiple of ``period`` on the
    monotonic clock at least half a period after ``last``. Views of equal (or multiple)
    periods so refresh in the same wake-ups, at their rate on average."""
    return math.ceil((last + period / 2) / period) * period


class PumpedView(Protocol):
    """What the pump needs of a view."""

    active: bool  # False while hidden (a tab not shown) or closed
    min_interval: float  # seconds between two refreshes of this view (on average: see on_grid)

    def tick(self) -> None:
        """Bring the widgets up to date; called from the pump thread only."""


class UiPump:
    """A daemon thread that refreshes registered views at up to ``hz`` ticks per second."""

    def __init__(self, hz: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 < hz <= 20:
            raise ValueError(f"the UI pump runs at 0-20 Hz, got {hz}")
        self.interval = 1.0 / hz
        self.clock = clock  # when views are due (tests drive ticks with their own)
        self._views: weakref.WeakSet = weakref.WeakSet()
        self._urgent: weakref.WeakSet = weakref.WeakSet()  # poked views: refresh at the next wake
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

    def poke(self, view: PumpedView | None = None) -> None:
        """Refresh soon rather than at the next tick (after a user action).

        Args:
            view: refresh this view at the next wake-up even if its ``min_interval`` has not
                passed since its last refresh (still at most once per pump interval), so a
                view may refresh rarely while training runs and still answer a click at once.
        """
        if view is not None:
            with self._lock:
                self._urgent.add(view)
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
        now = self.clock()
        with self._lock:
            views = list(self._views)
            urgent = self._urgent
            if urgent:
                self._urgent = weakref.WeakSet()
        next_due = 1.0
        due: list[PumpedView] = []
        for view in views:
            if not getattr(view, "active", False):
                continue
            period = max(getattr(view, "min_interval", 0.0), self.interval)
            last = self._last.get(view)
            if last is None:
                at = now
            elif view in urgent:
                at = last + self.interval
            else:
                at = on_grid(last, period)
            if at - now > EARLY:
                next_due = min(next_due, at - now)
                if view in urgent:
                    with self._lock:
                        self._urgent.add(view)
                continue
            next_due = min(next_due, on_grid(now, period) - now)
            due.append(view)
        for index, view in enumerate(due):
            if index:
                # hand the GIL over between views: a training thread waiting for it between
                # two ops would otherwise wait for the whole tick (or the 5 ms switch interval)
                time.sleep(0)
            self._last[view] = now
            try:
                view.tick()
            except Exception:  # a broken view must not take the others (or training) down
                self.failures += 1
                log.exception("nbviz view %r failed to refresh", view)
        self.ticks += 1
        self.busy_seconds += time.perf_counter() - started
        return max(next_due, EARLY)

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
