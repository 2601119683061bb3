"""Shared behaviour of every nbviz view: pump registration, visibility, closing."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from ..session.base import SessionBase


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


class LiveView(widgets.VBox):
    """A view of one run, refreshed by the run's UI pump while active.

    Subclasses build their widgets in ``__init__`` (calling ``super().__init__(session,
    children=[...])``) and implement :meth:`refresh`, which the pump calls from its thread
    at most every ``min_interval`` seconds while the view is active. Observers of front-end
    events must only validate and enqueue (``session.run_at_batch_boundary``) or set state.
    """

    min_interval = 0.25

    def __init__(self, session: SessionBase, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = check_session(session)
        self.active = True
        self.session.pump.register(self)

    def refresh(self) -> None:
        """Update widgets from the session (pump thread only)."""

    def set_active(self, active: bool) -> None:
        """Shown (True) or hidden (False); hidden views cost nothing per tick."""
        self.active = active
        if active:
            self.session.pump.poke()

    def close(self) -> None:
        self.active = False
        session = getattr(self, "session", None)  # None when __init__ failed half-way
        if session is not None:
            session.pump.unregister(self)
            self.on_close()
        super().close()

    def on_close(self) -> None:
        """Release hooks and callbacks (subclasses override)."""
