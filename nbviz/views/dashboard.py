"""The Dashboard: the control bar above tabs of views of one run."""

from __future__ import annotations

import html
import importlib
import threading
from typing import Any

import ipywidgets as widgets

from ..session.base import SessionBase
from ..widgets import guarded
from .base import LiveView, check_session, close_tree, message_html
from .context import context_for
from .controls import ControlBar, narrow_width_style
from .curves import TrainingCurves
from .registry import DASHBOARD_TABS


def _load(path: str) -> type:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


class Dashboard(widgets.VBox):
    """Controls and live curves of a run, plus one tab per view.

    Tabs other than Training are built the first time they are opened, and only the shown
    tab is refreshed, so a hidden view costs nothing.

    Args:
        session: a :class:`nbviz.TrainingSession` or the result of :func:`nbviz.watch`.
        tabs: titles of the extra tabs to show (default: all registered views), or [] for
            just the training curves.

    Raises:
        TypeError: if ``session`` is not an nbviz run.
        ValueError: for an unknown tab title.

    Example:
        >>> session = nbviz.TrainingSession(model, train_loader, val_loader)
        >>> nbviz.Dashboard(session)   # last line of a cell: shows it
    """

    def __init__(self, session: SessionBase, tabs: list[str] | None = None) -> None:
        self.session = check_session(session)
        known = dict(DASHBOARD_TABS)
        if tabs is None:
            tabs = list(known)
        unknown = [t for t in tabs if t not in known]
        if unknown:
            raise ValueError(f"unknown tab(s) {unknown}; available: {list(known)}")
        self.context = context_for(self.session)
        self._lock = threading.RLock()
        self._closed = False
        self.controls = ControlBar(session)
        self.curves = TrainingCurves(session)
        self._tab_classes = [known[t] for t in tabs]
        self.views: dict[int, LiveView] = {0: self.curves}
        placeholders = [widgets.HTML(message_html("opening…")) for _ in tabs]
        self.tabs = guarded.Tab(children=[self.curves, *placeholders],
                                titles=["Training", *tabs])
        self.tabs.observe(self._on_tab, names="selected_index")
        # Weights and gradients are recorded from now on, so their history is there when the
        # tab is first opened (the recorder keeps itself within ~0.25% of training time).
        self._records_params = bool({"Weights", "Gradients"} & set(tabs))
        if self._records_params:
            self.context.acquire_param_stats(self)
        # one line on the CPU allocator tuning: what was tuned and how to opt out (or why not)
        note = self.session.allocator_note()
        self.allocator_note = widgets.HTML(
            f'<div class="nbviz-allocator-note" style="color:#757575;font-size:11px">'
            f"{html.escape(note)}</div>" if note else "")
        super().__init__(children=[narrow_width_style(), self.controls, self.tabs,
                                   self.allocator_note])
        self.add_class("nbviz-dashboard")
        for old in self.context.replace_dashboard(self):
            old.retire()

    def view(self, title: str) -> LiveView:
        """The view shown in tab ``title`` (built now if it was not yet)."""
        titles = list(self.tabs.titles)
        if title not in titles:
            raise ValueError(f"no tab {title!r}; tabs: {titles}")
        return self._open(titles.index(title))

    def _open(self, index: int) -> Any:
        with self._lock:  # tab clicks may arrive on several threads at once: build once
            if self._closed:
                raise RuntimeError("this dashboard is closed; create a new one")
            view = self.views.get(index)
            if view is not None:
                return view
            try:
                view = _load(self._tab_classes[index - 1])(self.session)
            except Exception as exc:  # a view that cannot open says why; the run goes on
                error = widgets.HTML(message_html(f"this view could not open: {exc}", "error"))
                self._replace_child(index, error)
                raise
            self.views[index] = view
            self._replace_child(index, view)
            return view

    def _replace_child(self, index: int, child: widgets.Widget) -> None:
        children = list(self.tabs.children)
        old = children[index]
        children[index] = child
        self.tabs.children = children
        if not isinstance(old, LiveView):
            close_tree(old)  # a placeholder or an earlier error message

    def _on_tab(self, change: dict[str, Any]) -> None:
        """A tab was chosen (any thread): show/hide built views; the UI pump builds a new one."""
        if not self._show_selected(build=False):
            self.context.pump.call_soon(self._show_selected)

    def _show_selected(self, build: bool = True) -> bool:
        """Make only the selected tab's view active, building it first if ``build`` (the UI
        pump); False when it is not built yet and ``build`` is False."""
        with self._lock:
            if self._closed:
                return True
            index = self.tabs.selected_index  # the latest, not a (maybe stale) change's
            if index is not None and index not in self.views:
                if not build:
                    return False
                try:
                    self._open(index)
                except Exception:
                    return True  # the tab shows why
            for i, view in self.views.items():
                view.set_active(i == index)
            return True

    def retire(self) -> None:
        """Stop refreshing because a newer dashboard of the same run exists; say so."""
        with self._lock:
            if self._closed:
                return
            note = widgets.HTML(message_html(
                "A newer dashboard of this run was created (the cell was run again); this one "
                "stopped updating.", "info"))
            shown: list[widgets.Widget] = list(self.children)  # type: ignore[has-type]
            self.children = [note]
        for child in shown:
            close_tree(child)
        self._release()

    def close(self) -> None:
        """Close every view and widget of the dashboard (safe to call twice)."""
        if getattr(self, "_lock", None) is None:  # __init__ failed before set-up
            widgets.Widget.close(self)
            return
        self._release()
        close_tree(self)

    def _release(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for view in self.views.values():
            view.close()
        self.controls.close()
        if self._records_params:
            self.context.release_param_stats(self)
        self.context.forget_dashboard(self)
