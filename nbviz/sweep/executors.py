"""Where trials run: Dask distributed (a default LocalCluster, or any Client), or the kernel.

Both executors hand back futures of :func:`nbviz.sweep.trial.run_trial` results and give
each trial a channel to the kernel's :class:`~nbviz.sweep.channel.Inbox`.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from .channel import DaskChannel, Inbox, LocalChannel, TrialChannel


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class SerialExecutor:
    """Trials one after another in a thread of the kernel's process (no Dask)."""

    kind = "serial"

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
        self.slots = 1
        self.threads: int | None = None  # the kernel's torch threads stay as the user set them
        self._pool = cf.ThreadPoolExecutor(1, thread_name_prefix="nbviz-trial")

    def channel_factory(self, name: str) -> Callable[[str], TrialChannel]:
        return lambda attempt: LocalChannel(self.inbox, f"{name}-{attempt}")

    def submit(self, fn: Callable[..., Any], *args: Any, key: str) -> cf.Future:
        return self._pool.submit(fn, *args)

    def wait(self, futures: list[Any], timeout: float) -> set[Any]:
        done, _ = cf.wait(futures, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return set(done)

    def cancel(self, future: Any) -> bool:
        return bool(future.cancel())

    def decide(self, channel: str, decision: dict[str, Any]) -> None:
        self.inbox.decide(channel, decision)

    def stop(self, channel: str) -> None:
        self.inbox.decide(channel, {"step": 1 << 62, "prune": False, "stop": True})

    def forget(self, channel: str) -> None:
        self.inbox.forget(channel)

    def describe(self) -> str:
        return "one trial at a time in this kernel"

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _make_dask_channel(topic: str, name: str, attempt: str) -> TrialChannel:
    return DaskChannel(topic, f"{name}-{attempt}")


class DaskExecutor:
    """Trials as tasks of a Dask cluster; metrics come back through a scheduler event topic."""

    kind = "dask"

    def __init__(self, inbox: Inbox, topic: str, client: Any = None, n_workers: int | None = None) -> None:
        from distributed import Client

        self.inbox, self.topic = inbox, topic
        self.owns_cluster = client is None or isinstance(client, str)
        self.cluster: Any = None
        if client is None:
            from distributed import LocalCluster

            cores = usable_cores()
            n = n_workers or cores
            # one task per worker process, torch threads splitting the cores between them
            self.cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                        dashboard_address=None, silence_logs=40)
            client = Client(self.cluster, set_as_default=False)
            self.threads: int | None = max(1, cores // n)
        elif isinstance(client, str):
            client = Client(client, set_as_default=False, timeout="20s")
            self.threads = None
        elif not isinstance(client, Client):
            raise TypeError(f"executor must be None (a local Dask cluster), 'serial', a scheduler "
                            f"address or a distributed.Client, got {type(client).__name__}")
        else:
            self.threads = None
        self.client = client
        self._variables: dict[str, Any] = {}
        self._slots, self._slots_at = 1, -1e9
        self._lock = threading.Lock()
        client.subscribe_topic(topic, self._on_event)

    @property
    def slots(self) -> int:
        """Trials that can run at once: every worker thread of the cluster (at least 1),
        asked of the scheduler at most every 2 s (workers come and go)."""
        now = time.monotonic()
        if now - self._slots_at > 2.0:
            try:
                info = self.client.scheduler_info(n_workers=-1)
            except TypeError:  # older distributed: no n_workers argument
                info = self.client.scheduler_info()
            self._slots = max(1, sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()))
            self._slots_at = now
        return self._slots

    def _on_event(self, event: Any) -> None:
        msg = event[1] if isinstance(event, (tuple, list)) and len(event) == 2 else event
        if isinstance(msg, dict):
            self.inbox.put(msg)

    def channel_factory(self, name: str) -> Callable[[str], TrialChannel]:
        return partial(_make_dask_channel, self.topic, name)

    def submit(self, fn: Callable[..., Any], *args: Any, key: str) -> Any:
        return self.client.submit(fn, *args, key=key, pure=False, retries=0)

    def wait(self, futures: list[Any], timeout: float) -> set[Any]:
        from distributed import wait

        try:
            done, _ = wait(futures, timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return set()
        return set(done)

    def cancel(self, future: Any) -> bool:
        if future.done():
            return False
        self.client.cancel(future)
        return True

    def decide(self, channel: str, decision: dict[str, Any]) -> None:
        from distributed import Variable

        with self._lock:
            variable = self._variables.get(channel)
            if variable is None:
                variable = self._variables[channel] = Variable(channel, client=self.client)
        variable.set(dict(decision))

    def stop(self, channel: str) -> None:
        from distributed import Event

        Event(f"{channel}-stop", client=self.client).set()
        self.decide(channel, {"step": 1 << 62, "prune": False, "stop": True})

    def forget(self, channel: str) -> None:
        from distributed import Event

        with self._lock:
            variable = self._variables.pop(channel, None)
        try:
            if variable is not None:
                variable.delete()
            Event(f"{channel}-stop", client=self.client).clear()
        except Exception:  # the scheduler is gone: nothing left to clean
            pass

    def describe(self) -> str:
        where = "a local Dask cluster" if self.cluster is not None else f"Dask at {self.client.scheduler.address}"
        threads = f", {self.threads} torch thread(s) each" if self.threads else ""
        return f"{where}: {self.slots} trial(s) at once{threads}"

    def close(self) -> None:
        try:
            self.client.unsubscribe_topic(self.topic)
        except Exception:
            pass
        if self.owns_cluster:
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()
