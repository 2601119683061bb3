"""What every nbviz view shares: its run context, pump refreshes, asking the training thread,
and closing every widget it made.

A view is one class deriving from :class:`LiveView`. The order of construction is always:
``super().__init__(session, children=[...])`` first (it checks the session and finds the
run's context), then the view's own widgets and state, then ``self.poke()``. The pump calls
:meth:`LiveView.tick` from its thread; that delivers answers from the training thread (see
:meth:`LiveView.ask`) and then calls the view's :meth:`LiveView.refresh`.
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

import ipywidgets as widgets

from ..session.base import SessionBase
from .context import RunContext, context_for

log = logging.getLogger("nbviz")
T = TypeVar("T")


def check_session(session: object) -> SessionBase:
    if not isinstance(session, SessionBase):
        raise TypeError(
            f"expected an nbviz.TrainingSession or nbviz.watch(...) result, got {type(session).__name__}. "
            "Create one with nbviz.TrainingSession(model, train_loader).")
    return session


def message_html(text: str, kind: str = "info") -> str:
    """A short message box (info, warning or error) as HTML, escaped."""
    colours = {"info": "#1565c0", "warning": "#e65100", "error": "#b71c1c"}
    return (f'<div class="nbviz-message nbviz-{kind}" style="color:{colours[kind]};'
            f'white-space:pre-wrap">{html.escape(text)}</div>')


def _widgets_in(value: Any) -> Iterator[widgets.Widget]:
    if isinstance(value, widgets.Widget):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _widgets_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _widgets_in(item)


def widget_tree(root: widgets.Widget) -> list[widgets.Widget]:
    """Every widget reachable from ``root`` through its synced traits (children, layout,
    style, a figure's marks, axes and scales...) and, for views, their own attributes."""
    seen: dict[int, widgets.Widget] = {}
    stack = [root]
    while stack:
        widget = stack.pop()
        if id(widget) in seen:
            continue
        seen[id(widget)] = widget
        for name in widget.keys:
            try:
                value = getattr(widget, name)
            except Exception:  # a trait that cannot be read has no widgets to close
                continue
            stack.extend(_widgets_in(value))
        if isinstance(widget, LiveView):
            stack.extend(_widgets_in(list(vars(widget).values())))
    return list(seen.values())


def close_tree(root: widgets.Widget) -> None:
    """Close ``root`` and every widget inside it (views first, so they release their hooks)."""
    tree = widget_tree(root)
    for widget in tree:
        if isinstance(widget, LiveView) and widget is not root:
            widget.close()
    for widget in tree:
        widgets.Widget.close(widget)


def claim_close(widget: Any, lock_name: str) -> bool:
    """The start of an idempotent ``close``: True for the first call, which sets
    ``widget._closed`` under the widget's lock named ``lock_name``; False for any later one.
    A widget whose ``__init__`` failed before it made that lock is closed bare here, also
    False (ipywidgets calls ``close`` from ``__del__``, so half-built widgets get here too)."""
    lock = getattr(widget, lock_name, None)
    if lock is None:
        widgets.Widget.close(widget)
        return False
    with lock:
        if widget._closed:
            return False
        widget._closed = True
        return True


class _ViewType(type(widgets.VBox)):  # type: ignore[misc]
    """Marks a view ready once its whole constructor (the subclass's too) has returned."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        view = super().__call__(*args, **kwargs)
        view._ready = True
        view.poke()
        return view


class LiveView(widgets.VBox, metaclass=_ViewType):
    """A view of one run, refreshed by the run's UI pump while shown.

    Subclasses implement :meth:`refresh` (pump thread only) and, if they hold hooks,
    callbacks or observers of shared objects, :meth:`on_close`. Observers of front-end
    events must only validate and store state, :meth:`ask` the training thread, or
    :meth:`poke` the pump: they may run on several threads at once.
    """

    min_interval = 0.25
    _ready = False  # the pump skips the view until its constructor has returned

    def __init__(self, session: SessionBase, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = check_session(session)
        self.context: RunContext = context_for(self.session)
        self.active = True
        self._closed = False
        self._close_lock = threading.Lock()
        self._answers_lock = threading.Lock()
        self._answers: list[tuple[Future, Callable[[Any], None], Callable[[BaseException], None] | None]] = []
        self.context.pump.register(self)

    @property
    def pump(self) -> Any:
        return self.context.pump

    @property
    def closed(self) -> bool:
        return self._closed

    def poke(self) -> None:
        """Ask the pump to refresh this view at its next wake-up (after a user action or an
        answer), whatever its ``min_interval``: views poll rarely and still answer at once."""
        self.context.pump.poke(self)

    def ask(self, work: Callable[[], T], on_result: Callable[[T], None],
            on_error: Callable[[BaseException], None] | None = None) -> Future:
        """Run ``work`` where it cannot race training; hand its result to ``on_result``.

        ``work`` runs in the training thread at its next batch boundary (now, if no loop is
        active). ``on_result`` (or ``on_error``) runs later in the pump thread, before
        :meth:`refresh`, so it may write widgets. Never blocks the caller.
        """
        future = self.session.run_at_batch_boundary(work)
        with self._answers_lock:
            self._answers.append((future, on_result, on_error))
        future.add_done_callback(lambda _: self.poke())
        return future

    def tick(self) -> None:
        """The pump's entry point: deliver finished answers, then :meth:`refresh`."""
        if not self._ready:
            return
        self.deliver_answers()
        if not self._closed:
            self.refresh()

    def deliver_answers(self) -> None:
        """Hand every finished :meth:`ask` to its callback (in the calling thread)."""
        with self._answers_lock:
            done: list[Any] = []
            waiting: list[Any] = []
            for answer in self._answers:  # one look at each future: it may finish meanwhile
                (done if answer[0].done() else waiting).append(answer)
            self._answers = waiting
        for future, on_result, on_error in done:
            if future.cancelled():
                continue
            error = future.exception()
            if error is None:
                on_result(future.result())
            elif on_error is not None:
                on_error(error)
            else:
                log.warning("nbviz %s: a probe failed: %r", type(self).__name__, error)

    def refresh(self) -> None:
        """Update widgets from the session (pump thread only)."""

    def set_active(self, active: bool) -> None:
        """Shown (True) or hidden (False); hidden views cost nothing per tick."""
        self.active = active and not self._closed
        if self.active:
            self.poke()

    def close(self) -> None:
        """Stop refreshing, release hooks and close every widget of the view (idempotent)."""
        if not claim_close(self, "_close_lock"):
            return
        self.active = False
        self.context.pump.unregister(self)
        with self._answers_lock:
            for future, _, _ in self._answers:
                future.cancel()
            self._answers = []
        try:
            self.on_close()
        finally:
            close_tree(self)

    def on_close(self) -> None:
        """Release hooks, callbacks and observers of shared objects (subclasses override)."""
