"""Tools for tests and benchmarks: count the comm messages widgets send, without a kernel."""

from __future__ import annotations

import threading
import time
from typing import Any

import comm
from comm.base_comm import BaseComm


class RecordingComm(BaseComm):
    """A comm that records each message instead of sending it."""

    def __init__(self, recorder: CommRecorder, **kwargs: Any) -> None:
        self._recorder = recorder
        super().__init__(**kwargs)

    def publish_msg(self, msg_type: str, data: Any = None, metadata: Any = None,
                    buffers: Any = None, **keys: Any) -> None:
        self._recorder.record(msg_type, data, buffers)


class CommRecorder:
    """Patch ``comm.create_comm`` so widgets created inside ``with`` record their messages.

    Example:
        >>> with CommRecorder() as rec:
        ...     board = nbviz.Dashboard(session)
        ...     rec.reset(); time.sleep(10)
        ...     print(rec.rate())  # messages per second
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[tuple[float, str, Any]] = []
        self._since = time.monotonic()
        self._saved: Any = None

    def record(self, msg_type: str, data: Any, buffers: Any) -> None:
        with self.lock:
            self.messages.append((time.monotonic(), msg_type, data))

    def updates(self) -> list[dict[str, Any]]:
        """The ``update`` messages (trait changes) recorded since the last reset."""
        with self.lock:
            return [d for _, kind, d in self.messages
                    if kind == "comm_msg" and isinstance(d, dict) and d.get("method") == "update"]

    def reset(self) -> None:
        with self.lock:
            self.messages.clear()
            self._since = time.monotonic()

    def rate(self) -> float:
        """comm messages per second since the last reset."""
        with self.lock:
            count = sum(1 for _, kind, _ in self.messages if kind == "comm_msg")
        return count / max(time.monotonic() - self._since, 1e-9)

    def __enter__(self) -> CommRecorder:
        self._saved = comm.create_comm
        comm.create_comm = lambda **kwargs: RecordingComm(self, **kwargs)
        return self

    def __exit__(self, *exc: Any) -> None:
        comm.create_comm = self._saved
