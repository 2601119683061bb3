"""Two-way links between a control and a view's state trait, safe across threads.

``traitlets.link`` assumes one thread: when two comm threads set the two ends at once it
raises "Broken link … the source value changed while updating the target". Here every link
of a run serialises on the run context's one state lock (one lock, so no two links can wait
on each other), and a value the view refuses puts the control back instead of raising.
"""

from __future__ import annotations

import threading
from typing import Any

import traitlets


class ControlLink:
    """Keeps ``control.<control_name>`` and ``view.<name>`` equal; the view validates.

    Args:
        control: the input widget.
        view: the object holding the state (its trait validators decide what is allowed).
        name: the view's trait.
        lock: the run's state lock (``context.state_lock``).
        control_name: the control's trait (default ``value``).
    """

    def __init__(self, control: traitlets.HasTraits, view: traitlets.HasTraits, name: str,
                 lock: threading.RLock, control_name: str = "value") -> None:
        self.control, self.view, self.name, self.control_name = control, view, name, control_name
        self.lock = lock
        with lock:
            setattr(control, control_name, getattr(view, name))
        control.observe(self._from_control, names=control_name)
        view.observe(self._from_view, names=name)

    def _from_control(self, change: dict[str, Any]) -> None:
        with self.lock:
            if change["new"] == getattr(self.view, self.name):
                return
            try:
                setattr(self.view, self.name, change["new"])
            except traitlets.TraitError:
                setattr(self.control, self.control_name, getattr(self.view, self.name))

    def _from_view(self, change: dict[str, Any]) -> None:
        with self.lock:
            if getattr(self.control, self.control_name) != change["new"]:
                setattr(self.control, self.control_name, change["new"])

    def unlink(self) -> None:
        self.control.unobserve(self._from_control, names=self.control_name)
        self.view.unobserve(self._from_view, names=self.name)
