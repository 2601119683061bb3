"""Comm messages for one widget on several threads at once, while Python writes it too."""

from __future__ import annotations

import random
import sys
import threading

import pytest

from nbviz.widgets import guarded


@pytest.fixture
def fast_thread_switches():
    """Switch threads every few microseconds, so a race window of a few bytecodes is hit."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


@pytest.mark.parametrize("make, state, python_write", [
    (lambda: guarded.FloatText(value=1.0), lambda r: {"value": r.random()}, ("value", float)),
    (lambda: guarded.Dropdown(options=["a", "b", "c"]), lambda r: {"index": r.randrange(3)}, ("index", int)),
], ids=["FloatText", "Dropdown"])
def test_a_storm_of_front_end_messages_and_python_writes_on_one_widget(
        fast_thread_switches, make, state, python_write) -> None:
    widget = make()
    errors: list[BaseException] = []
    name, kind = python_write

    def front_end(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(2000):
                widget.set_state(state(rng))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def python() -> None:
        try:
            for i in range(2000):
                setattr(widget, name, kind(i % 3))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=front_end, args=(seed,)) for seed in range(3)]
    threads.append(threading.Thread(target=python))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors[:3]
    widget.set_state(state(random.Random(99)))  # still works, and the lock is released
    assert widget._property_lock == {}
    widget.close()
