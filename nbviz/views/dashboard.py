"""The Dashboard: the control bar above tabs of views of one run."""

from __future__ import annotations

import importlib
from typing import Any

import ipywidgets as widgets

from ..session.base import SessionBase
from .base import LiveView, check_session, message_html
from .controls import ControlBar
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
        self.controls = ControlBar(session)
        self.curves = TrainingCurves(session)
        self._tab_classes = [known[t] for t in tabs]
        self.views: dict[int, LiveView] = {0: self.curves}
        placeholders = [widgets.HTML(message_html("opening…")) for _ in tabs]
        self.tabs = widgets.Tab(children=[self.curves, *placeholders],
                                titles=["Training", *tabs])
        self.tabs.observe(self._on_tab, names="selected_index")
        super().__init__(children=[self.controls, self.tabs])
        self.add_class("nbviz-dashboard")

    def view(self, title: str) -> LiveView:
        """The view shown in tab ``title`` (built now if it was not yet)."""
        titles = list(self.tabs.titles)
        if title not in titles:
            raise ValueError(f"no tab {title!r}; tabs: {titles}")
        return self._open(titles.index(title))

    def _open(self, index: int) -> Any:
        view = self.views.get(index)
        if view is None:
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
        children[index] = child
        self.tabs.children = children

    def _on_tab(self, change: dict[str, Any]) -> None:
        index = change["new"]
        for i, view in self.views.items():
            view.set_active(i == index)
        if index is not None and index not in self.views:
            try:
                self._open(index)
            except Exception:
                return
            self.views[index].set_active(True)

    def close(self) -> None:
        for view in getattr(self, "views", {}).values():  # empty if __init__ failed half-way
            view.close()
        if hasattr(self, "controls"):
            self.controls.close()
        super().close()
