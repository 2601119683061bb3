"""Input widgets that check what the front end sends before ipywidgets converts it.

ipywidgets coerces incoming values before any observer sees them (``True`` becomes 1.0 in
a FloatText, a number past a slider's end is clamped to it, ``null`` reaches a Dropdown as
``index=None``). These subclasses look at the raw value in :meth:`set_state`: a refused
value never reaches the trait, the front end is sent the value in force again, and
``on_refused`` (if set) hears why. Values set from Python are not affected.

They are also safe when comm messages for one widget arrive on several threads at once
(ipykernel 7 subshells) while the UI pump writes it: ipywidgets keeps one "property lock"
per widget (the state the front end just sent, so it is not echoed back), and a second
thread resetting or reading it mid-way raised KeyError inside ipywidgets. Here each thread
has its own, and messages for one widget are applied one at a time.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

Check = Callable[[Any], "str | None"]


def real_number(value: Any) -> str | None:
    """Why ``value`` is not a finite real number, or None if it is."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"expected a number, got {value!r}"
    if not math.isfinite(value):
        return f"expected a finite number, got {value!r}"
    return None


def whole_number(low: int, high: int) -> Check:
    """A check for whole numbers in ``[low, high]``."""
    def check(value: Any) -> str | None:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            return f"expected a whole number, got {value!r}"
        if not low <= value <= high:
            return f"expected a whole number from {low:,} to {high:,}, got {value:,}"
        return None
    return check


def number_between(low: float, high: float) -> Check:
    """A check for finite real numbers in ``[low, high]`` (refused, not clamped)."""
    def check(value: Any) -> str | None:
        reason = real_number(value)
        if reason is None and not low <= value <= high:
            reason = f"expected a number from {low:g} to {high:g}, got {value!r}"
        return reason
    return check


class Guarded:
    """Mixin: refuse bad raw values of synced traits sent by the front end.

    ``guards`` maps a trait name to a check returning the reason for refusal or None.
    """

    guards: dict[str, Check]
    on_refused: Callable[[str], None] | None = None

    def default_guards(self) -> dict[str, Check]:
        return {}

    def _per_thread(self) -> threading.local:
        # dict.setdefault is atomic: two threads never get two different objects
        return self.__dict__.setdefault("_nbviz_per_thread", threading.local())

    @property
    def _property_lock(self) -> dict[str, Any]:
        """ipywidgets' property lock, one per thread (it shadows the widget-wide one)."""
        return getattr(self._per_thread(), "property_lock", {})

    @_property_lock.setter
    def _property_lock(self, value: dict[str, Any]) -> None:
        self._per_thread().property_lock = value

    def set_state(self, sync_data: dict[str, Any]) -> None:
        lock = self.__dict__.setdefault("_nbviz_set_state_lock", threading.RLock())
        with lock:  # one message at a time per widget: traitlets' notification hold is not thread-safe
            self._set_state(sync_data)

    def _set_state(self, sync_data: dict[str, Any]) -> None:
        checks = {**self.default_guards(), **getattr(self, "guards", {})}
        refused = []
        for name, check in checks.items():
            if name in sync_data:
                reason = check(sync_data[name])
                if reason is not None:
                    refused.append(name)
                    if self.on_refused is not None:
                        self.on_refused(reason)
        accepted = {k: v for k, v in sync_data.items() if k not in refused}
        if accepted:
            super().set_state(accepted)  # type: ignore[misc]
        for name in refused:
            self.send_state(name)  # type: ignore[attr-defined]  # show the value in force again


class _Selection(Guarded):
    def default_guards(self) -> dict[str, Check]:
        count = len(self.options)  # type: ignore[attr-defined]
        return {"index": whole_number(0, max(count - 1, 0))}


class FloatText(Guarded, widgets.FloatText):
    def default_guards(self) -> dict[str, Check]:
        return {"value": real_number}


class FloatLogSlider(Guarded, widgets.FloatLogSlider):
    def default_guards(self) -> dict[str, Check]:
        return {"value": number_between(self.base ** self.min, self.base ** self.max)}


class IntText(Guarded, widgets.IntText):
    def default_guards(self) -> dict[str, Check]:
        return {"value": whole_number(-(2**53), 2**53)}


class BoundedIntText(Guarded, widgets.BoundedIntText):
    def default_guards(self) -> dict[str, Check]:
        return {"value": whole_number(self.min, self.max)}


class IntSlider(Guarded, widgets.IntSlider):
    def default_guards(self) -> dict[str, Check]:
        return {"value": whole_number(self.min, self.max)}


class Dropdown(_Selection, widgets.Dropdown):
    pass


class ToggleButtons(_Selection, widgets.ToggleButtons):
    pass


class RadioButtons(_Selection, widgets.RadioButtons):
    pass


class Tab(Guarded, widgets.Tab):
    def default_guards(self) -> dict[str, Check]:
        last = max(len(self.children) - 1, 0)
        return {"selected_index": lambda value: None if value is None else whole_number(0, last)(value)}


class FloatSlider(Guarded, widgets.FloatSlider):
    def default_guards(self) -> dict[str, Check]:
        return {"value": number_between(self.min, self.max)}


class Checkbox(Guarded, widgets.Checkbox):
    def default_guards(self) -> dict[str, Check]:
        return {"value": lambda value: None if isinstance(value, bool) else f"expected true or false, got {value!r}"}


class Select(_Selection, widgets.Select):
    def default_guards(self) -> dict[str, Check]:
        count = len(self.options)
        return {"index": lambda value: None if value is None else whole_number(0, max(count - 1, 0))(value)}
