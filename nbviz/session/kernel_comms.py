"""Getting widget clicks to a training loop that runs in a notebook cell (the main shell).

Two paths, both used at once:

* **Kernel subshells.** JupyterLab >= 4.4 sends comm messages on a subshell when the kernel
  supports them (ipykernel >= 7), so they are handled on another thread while the cell runs.
  But ipykernel 7.4 routes each incoming comm message to the shell the comm last *published*
  from (``BaseComm._reply_subshell_for``, meant for request/reply round trips): a widget
  displayed from a main-shell cell is pinned to the main shell, and the front end's choice
  of subshell is overridden, so clicks wait for the cell. :func:`route_comms` makes nbviz's
  widgets honour the front end's choice again (request/reply round trips keep ipykernel's
  routing).
* **Message pump.** Where the front end has no subshells (Notebook 7 on older stacks, VS Code,
  Colab), comm messages queue on the busy main shell. :class:`MainShellPump` handles the queued
  comm messages at each checkpoint and hands every other request (execute, inspect, ...) back
  to the kernel's own queue, in order, to run after the cell.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import Any

log = logging.getLogger("nbviz")

COMM_TYPES = frozenset({"comm_open", "comm_msg", "comm_close"})
SUBSHELL, MAIN = "kernel subshell", "message pump at each checkpoint"


class _Seen:
    """Where the last comm message of an nbviz widget came in (written by kernel threads)."""

    route: str | None = None


def current_kernel() -> Any | None:
    """The running ipykernel Kernel, or None (outside a kernel; never imports ipykernel)."""
    module = sys.modules.get("ipykernel.kernelbase")
    if module is None:
        return None
    try:
        return module.Kernel.instance() if module.Kernel.initialized() else None
    except Exception:  # a kernel being torn down
        return None


def on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def kernel_subshells(kernel: Any) -> list[str] | None:
    """The subshells a front end created in ``kernel``; None if it cannot have any."""
    thread = getattr(kernel, "shell_channel_thread", None)
    manager = getattr(thread, "manager", None)
    if manager is None or not getattr(kernel, "_supports_kernel_subshells", False):
        return None
    try:
        return list(manager.list_subshell())
    except Exception:
        return None


def front_end_path(kernel: Any) -> str:
    """Which path brings clicks to a loop that runs on ``kernel``'s main shell.

    Evidence, best first: where the last message of an nbviz widget arrived; else whether a
    front end has created subshells (JupyterLab makes one per comm target when it displays
    a widget); else the message pump.
    """
    if _Seen.route is not None:
        return _Seen.route
    subshells = kernel_subshells(kernel)
    return SUBSHELL if subshells else MAIN


# ---- routing ---------------------------------------------------------------------------------
def _request_id(data: Any) -> str | None:
    content = data.get("content") if isinstance(data, dict) else None
    value = content.get("id") if isinstance(content, dict) else None
    return value if isinstance(value, str) else None


def _honour_front_end(comm: Any) -> bool:
    """Let ``comm``'s incoming messages go to the subshell the front end chose."""
    original = getattr(comm, "_reply_subshell_for", None)
    if original is None or getattr(original, "nbviz_route", False):
        return False

    def route(data: Any, default: str | None) -> str | None:
        _Seen.route = SUBSHELL if default is not None else MAIN
        if _request_id(data) is not None:  # a reply someone awaits: ipykernel knows where
            return original(data, default)
        return default

    route.nbviz_route = True  # type: ignore[attr-defined]
    comm._reply_subshell_for = route
    return True


def _widget_children(widget: Any) -> Iterator[Any]:
    from ipywidgets import Widget

    for name in getattr(widget, "keys", ()):
        value = getattr(widget, name, None)
        if isinstance(value, Widget):
            yield value
        elif isinstance(value, (list, tuple)):
            yield from (v for v in value if isinstance(v, Widget))
        elif isinstance(value, dict):
            yield from (v for v in value.values() if isinstance(v, Widget))


def route_comms(roots: Iterable[Any]) -> int:
    """Route the comms of ``roots`` and every widget inside them; returns how many changed."""
    changed, seen, todo = 0, set(), list(roots)
    while todo:
        widget = todo.pop()
        if id(widget) in seen:
            continue
        seen.add(id(widget))
        comm = getattr(widget, "comm", None)
        if comm is not None and _honour_front_end(comm):
            changed += 1
        todo.extend(_widget_children(widget))
    return changed


class CommRouter:
    """Routes nbviz's widgets (views and everything inside them), re-checking cheaply."""

    def __init__(self) -> None:
        self._count = -1

    def refresh(self) -> None:
        module = sys.modules.get("ipywidgets.widgets.widget")
        if module is None:
            return
        instances = module._instances
        if len(instances) == self._count:
            return
        self._count = len(instances)
        roots = [w for w in list(instances.values())
                 if type(w).__module__.startswith("nbviz.")]
        route_comms(roots)


# ---- the message pump ------------------------------------------------------------------------
class MainShellPump:
    """Handles comm messages queued for the busy main shell, from the main thread.

    Requests that are not comm messages are handed back to the kernel's queue in the order
    they came, so they run after the cell exactly as they would have.
    """

    def __init__(self, kernel: Any) -> None:
        self.kernel = kernel
        self.reason = ""
        self._socket: Any = None
        self._stream: Any = None
        manager = getattr(getattr(kernel, "shell_channel_thread", None), "manager", None)
        pair = getattr(manager, "_shell_channel_to_main", None)
        if pair is None or getattr(pair, "to_stream", None) is None:
            version = getattr(sys.modules.get("ipykernel"), "__version__", "?")
            self.reason = (f"ipykernel {version} handles widget messages only between cells; "
                           "use ipykernel >= 7.1 or run the loop with viz.run_in_thread(loop)")
            return
        self._socket, self._stream = pair.to_socket, pair.to_stream

    @property
    def available(self) -> bool:
        return self._socket is not None

    def wait(self, timeout: float) -> None:
        """Sleep up to ``timeout`` s, waking as soon as a message for the main shell arrives."""
        import zmq

        if self._socket is None:
            threading.Event().wait(timeout)
            return
        self._socket.poll(int(timeout * 1000), zmq.POLLIN)

    def poll(self, limit: int = 64) -> int:
        """Handle up to ``limit`` queued messages now; returns how many were comm messages."""
        import zmq

        if self._socket is None or not on_main_thread():
            return 0
        comms = 0
        for _ in range(limit):
            try:
                frames = self._socket.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                break
            if self._dispatch(frames):
                comms += 1
        return comms

    def _dispatch(self, frames: list[Any]) -> bool:
        kernel = self.kernel
        session = kernel.session
        try:
            idents, rest = session.feed_identities(frames, copy=False)
            msg_type = session.deserialize(rest, content=False, copy=False)["header"]["msg_type"]
        except Exception:
            msg_type = None
        if msg_type not in COMM_TYPES:
            self._defer(frames)
            return False
        _Seen.route = MAIN
        msg = session.deserialize(rest, content=True, copy=False)
        parent, parent_ident = kernel.get_parent("shell"), kernel._get_shell_context_var(
            kernel._shell_parent_ident)
        kernel.set_parent(idents, msg, channel="shell")
        try:
            stream = kernel.shell_channel_thread.manager.get_subshell_to_shell_channel_socket(None)
            result = kernel.shell_handlers[msg_type](stream, idents, msg)
            if inspect.isawaitable(result):
                asyncio.ensure_future(result)
        except Exception:
            log.exception("nbviz: a widget message failed while the loop ran")
        finally:
            kernel.set_parent(parent_ident, parent, channel="shell")
        return True

    def _defer(self, frames: list[Any]) -> None:
        callback = getattr(self._stream, "_recv_callback", None)
        if callback is None:
            log.error("nbviz: could not hand a kernel request back; it is lost")
            return
        self._stream._run_callback(callback, frames)
