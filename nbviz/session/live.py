"""Every run made in this process, so that runs left going can be found and stopped.

A run whose thread outlives the code that started it keeps training, and so keeps drawing
from the global torch RNG: a test suite uses this to stop (and flag) runs a test left going.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import SessionBase

_runs: weakref.WeakSet[SessionBase] = weakref.WeakSet()
_lock = threading.Lock()


def track(session: SessionBase) -> None:
    """Remember ``session`` (weakly: tracking never keeps a run alive)."""
    with _lock:
        _runs.add(session)


def running() -> list[SessionBase]:
    """The runs whose background loop thread (started by nbviz) is alive now."""
    with _lock:
        runs = list(_runs)
    return [s for s in runs if (t := s.loop_thread) is not None and t.is_alive()]


def stop_all(timeout: float = 60.0) -> list[str]:
    """Stop every run still going and join its thread.

    Returns:
        One line per run that was going: its kind, state and step, and whether its
        thread failed to end within ``timeout`` seconds.
    """
    runs = running()
    found = [f"{type(s).__name__} {s.state} at step {s.step_count}" for s in runs]
    for session in runs:
        session.request_stop()
    for i, session in enumerate(runs):
        thread = session.loop_thread
        if thread is None or thread is threading.current_thread():
            continue
        thread.join(timeout)
        if thread.is_alive():
            found[i] += f" (its thread {thread.name!r} did not end within {timeout:g} s)"
    return found
