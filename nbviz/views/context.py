"""The per-run context: everything the views of one run share, made on first use.

One :class:`RunContext` per session owns the UI pump (the only writer of output widgets),
the selection (layer, channel, sample) that links the views, the layers found by one probe
pass, the weight/gradient recorder, and the dashboards shown for the run. The session
package knows nothing of it: views reach it through :func:`context_for`.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any

from ..probes.capture import DEFAULT_TIMEOUT, LayerInfo, session_layers
from ..probes.param_stats import ParamStats
from .pump import UiPump
from .selection import Selection

if TYPE_CHECKING:
    from ..session.base import SessionBase

_contexts: weakref.WeakKeyDictionary[Any, RunContext] = weakref.WeakKeyDictionary()
_contexts_lock = threading.Lock()


class RunContext:
    """What the views of one run share. Safe to use from any thread."""

    def __init__(self, session: SessionBase) -> None:
        self._session = weakref.ref(session)
        self.pump = UiPump()
        self.selection = Selection()
        self._lock = threading.RLock()
        # held while any view of the run changes its state (controls, traits, selection):
        # one lock for all, so view state changes on several threads never interleave
        self.state_lock = threading.RLock()
        self._layers: tuple[Any, list[LayerInfo]] | None = None
        # why the model's forward pass fails, if it does (layers() then lists those before)
        self.forward_failure: str | None = None
        self._stats: ParamStats | None = None
        self._stats_owners: set[int] = set()
        self._dashboards: weakref.WeakSet[Any] = weakref.WeakSet()

    @property
    def session(self) -> SessionBase:
        session = self._session()
        if session is None:  # pragma: no cover - the context dies with its session
            raise RuntimeError("the run of this view no longer exists")
        return session

    # ---- layers found by one probe pass --------------------------------------------------------
    def layers(self, refresh: bool = False, timeout: float = DEFAULT_TIMEOUT) -> list[LayerInfo]:
        """The layers of the run's model (one probe pass at a batch boundary, then cached).

        The cache is dropped when the session's model object changes.
        """
        session = self.session
        with self._lock:
            cached = self._layers
        if cached is not None and not refresh and cached[0] is session.model:
            return cached[1]
        layers, failure = session_layers(session, timeout=timeout)
        with self._lock:
            self._layers = (session.model, layers)
            self.forward_failure = failure
        return layers

    # ---- the weight and gradient recorder ------------------------------------------------------
    def acquire_param_stats(self, owner: object) -> ParamStats:
        """The run's one ParamStats, attached while at least one owner holds it.

        The Weights and Gradients views and every dashboard hold it, so history is recorded
        from the moment a dashboard exists, once however many views show it.
        """
        with self._lock:
            if self._stats is None:
                self._stats = ParamStats(self.session.model).attach(self.session)
            self._stats_owners.add(id(owner))
            return self._stats

    def release_param_stats(self, owner: object) -> None:
        """Give back what :meth:`acquire_param_stats` gave ``owner``; the last one detaches it."""
        with self._lock:
            self._stats_owners.discard(id(owner))
            if not self._stats_owners and self._stats is not None:
                self._stats.detach()
                self._stats = None

    # ---- dashboards ----------------------------------------------------------------------------
    def replace_dashboard(self, dashboard: Any) -> list[Any]:
        """Register ``dashboard`` as the run's current one; returns the ones it replaces."""
        with self._lock:
            previous = [d for d in self._dashboards if d is not dashboard]
            self._dashboards.add(dashboard)
            return previous

    def forget_dashboard(self, dashboard: Any) -> None:
        with self._lock:
            self._dashboards.discard(dashboard)


def context_for(session: SessionBase) -> RunContext:
    """The one RunContext of ``session`` (created on first use, from any thread)."""
    with _contexts_lock:
        context = _contexts.get(session)
        if context is None:
            context = _contexts[session] = RunContext(session)
        return context
