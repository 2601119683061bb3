"""Drive a real ipykernel through jupyter_client: run code, send widget comm messages."""

from __future__ import annotations

import json
import os
import queue
import sys
import time
from typing import Any

from jupyter_client.manager import KernelManager


class KernelDriver:
    """A live kernel plus helpers to execute code and send comm messages (optionally on a
    subshell), reading output from IOPub by parent message id."""

    def __init__(self) -> None:
        env = dict(os.environ)
        env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
        self.km = KernelManager(kernel_name="python3")
        self.km.kernel_cmd = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        self.km.start_kernel(env=env)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        self._replies: dict[str, dict[str, Any]] = {}

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)

    # ---- messages -------------------------------------------------------------------------
    def _send_shell(self, msg_type: str, content: dict[str, Any], subshell_id: str | None) -> str:
        msg = self.kc.session.msg(msg_type, content)
        if subshell_id is not None:
            msg["header"]["subshell_id"] = subshell_id
        self.kc.shell_channel.send(msg)
        return msg["header"]["msg_id"]

    def create_subshell(self) -> str:
        msg = self.kc.session.msg("create_subshell_request", {})
        self.kc.control_channel.send(msg)
        reply = self.kc.control_channel.get_msg(timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"]
        return reply["content"]["subshell_id"]

    def execute_async(self, code: str, subshell_id: str | None = None) -> str:
        return self._send_shell("execute_request", {"code": code, "silent": False,
                                                    "store_history": False, "allow_stdin": False},
                                subshell_id)

    def execute(self, code: str, subshell_id: str | None = None, timeout: float = 60) -> str:
        """Run ``code`` and return what it printed; raise if it failed."""
        msg_id = self.execute_async(code, subshell_id)
        return self.wait_output(msg_id, timeout)

    def wait_output(self, msg_id: str, timeout: float = 60) -> str:
        """What the request ``msg_id`` printed, once the kernel is idle after it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self._replies.get(msg_id)
            if state is not None and state["done"]:
                if state["error"]:
                    raise RuntimeError("kernel error:\n" + state["error"])
                return "".join(state["text"])
            try:
                msg = self.kc.iopub_channel.get_msg(timeout=0.5)
            except queue.Empty:
                continue
            parent = msg["parent_header"].get("msg_id")
            if parent is None:
                continue
            state = self._replies.setdefault(parent, {"text": [], "error": "", "done": False})
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                state["text"].append(content["text"])
            elif kind == "error":
                state["error"] = "\n".join(content["traceback"])
            elif kind == "status" and content["execution_state"] == "idle":
                state["done"] = True
        raise TimeoutError(f"no idle status for {msg_id} within {timeout} s")

    def finished(self, msg_id: str) -> bool:
        """Whether the request ``msg_id`` has finished (as far as IOPub has told so far)."""
        state = self._replies.get(msg_id)
        return bool(state and state["done"])

    def comm_msg(self, comm_id: str, data: dict[str, Any], subshell_id: str | None = None) -> None:
        """Send what the front end sends for a widget event."""
        self._send_shell("comm_msg", {"comm_id": comm_id, "data": data}, subshell_id)

    def click(self, comm_id: str, subshell_id: str | None = None) -> None:
        self.comm_msg(comm_id, {"method": "custom", "content": {"event": "click"}}, subshell_id)

    def set_value(self, comm_id: str, value: Any, subshell_id: str | None = None) -> None:
        self.comm_msg(comm_id, {"method": "update", "state": {"value": value},
                                "buffer_paths": []}, subshell_id)

    def poll(self, expression: str, predicate: Any, subshell_id: str | None = None,
             timeout: float = 60.0) -> Any:
        """Evaluate ``expression`` until ``predicate`` holds for its value; return that value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.eval_json(expression, subshell_id)
            if predicate(value):
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"{expression} never satisfied the condition; last {value!r}")
            time.sleep(0.2)

    def eval_json(self, expression: str, subshell_id: str | None = None) -> Any:
        out = self.execute(f"import json as _j; print(_j.dumps({expression}))", subshell_id)
        return json.loads(out.strip().splitlines()[-1])
