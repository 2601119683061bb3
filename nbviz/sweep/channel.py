"""How a trial talks to the kernel: events up (metrics, reports), one decision down.

Up: small dicts of plain values (msgpack-able). On Dask they go through
``Worker.log_event`` to the scheduler and on to the kernel's ``Client.subscribe_topic``
handler: batched, pushed, no polling. Down, per attempt: a ``distributed.Variable`` holding
the kernel's latest decision ``{"step": s, "prune": bool, "stop": bool}``, which a trial
waits on after each report of its metric, and a ``distributed.Event`` set by Stop, which it
checks at most every ``flush_interval`` seconds (one small scheduler round trip).
In one process (``executor="serial"``) both are plain thread-safe objects.
"""

from __future__ import annotations

import collections
import threading
from typing import Any, Protocol


class TrialChannel(Protocol):
    """The worker side of a trial's link to the kernel."""

    def send(self, msg: dict[str, Any]) -> None: ...

    def decision(self, wait: float) -> dict[str, Any] | None: ...

    def stopped(self) -> bool: ...


class Inbox:
    """The kernel side: events from every trial, in arrival order, and decisions to send."""

    def __init__(self) -> None:
        self._events: collections.deque[dict[str, Any]] = collections.deque()
        self.wake = threading.Event()
        self._decisions: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def put(self, msg: dict[str, Any]) -> None:
        self._events.append(msg)
        self.wake.set()

    def drain(self) -> list[dict[str, Any]]:
        out = []
        while self._events:
            out.append(self._events.popleft())
        return out

    # in-process decisions (the Dask executor overrides where they go)
    def decide(self, channel: str, decision: dict[str, Any]) -> None:
        with self._lock:
            self._decisions[channel] = dict(decision)

    def decision(self, channel: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._decisions.get(channel)
            return None if found is None else dict(found)

    def forget(self, channel: str) -> None:
        with self._lock:
            self._decisions.pop(channel, None)


class LocalChannel:
    """A trial running in the kernel's process."""

    def __init__(self, inbox: Inbox, name: str) -> None:
        self.inbox, self.name = inbox, name

    def send(self, msg: dict[str, Any]) -> None:
        self.inbox.put(msg)

    def decision(self, wait: float) -> dict[str, Any] | None:
        return self.inbox.decision(self.name)

    def stopped(self) -> bool:
        found = self.inbox.decision(self.name)
        return bool(found and found.get("stop"))


class DaskChannel:
    """A trial running in a Dask worker task."""

    def __init__(self, topic: str, name: str) -> None:
        from distributed import Event, Variable, get_client, get_worker

        self.topic, self.name = topic, name
        self.worker = get_worker()
        client = get_client()
        self.variable = Variable(name, client=client)
        self.event = Event(f"{name}-stop", client=client)

    def send(self, msg: dict[str, Any]) -> None:
        self.worker.log_event(self.topic, msg)

    def decision(self, wait: float) -> dict[str, Any] | None:
        try:  # waits until the kernel first sets it; later calls return the latest at once
            value = self.variable.get(timeout=wait)
        except Exception:  # no answer in time, or the scheduler is going away
            return None
        return value if isinstance(value, dict) else None

    def stopped(self) -> bool:
        try:
            return bool(self.event.is_set())
        except Exception:
            return False
