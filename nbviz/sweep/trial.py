"""The worker side of a trial: the ``trial`` object an objective sees, and :func:`run_trial`.

An objective is either ``build(lr, weight_decay, ...)`` / ``build(trial)`` returning a
:class:`nbviz.TrainingSession` (the runner trains it on the worker and streams its history),
or a plain ``fn(trial)`` that trains itself, calls ``trial.report(step, val_loss=...)`` and
returns the final value (or None: the last reported value of the sweep's metric counts).
"""

from __future__ import annotations

import os
import socket
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

from ..session.callbacks import Callback
from .channel import TrialChannel

POINTS_PER_FLUSH = 64  # per metric: a fast loop's steps between two flushes are thinned to this


class Pruned(Exception):
    """Raised by :meth:`Trial.report` when the pruner (or the user's Stop) ends the trial.

    Let it propagate out of the objective: the trial is recorded as pruned (or stopped).
    """


class _ReadDict(dict):
    """The trial's parameters, remembering which were read."""

    def __init__(self, values: dict[str, Any], on_read: Callable[[str], None] | None = None) -> None:
        super().__init__(values)
        self.read: set[str] = set()
        self._on_read = on_read

    def _mark(self, key: Any) -> None:
        if key in self and key not in self.read:
            self.read.add(key)
            if self._on_read is not None:
                self._on_read(key)

    def __getitem__(self, key: Any) -> Any:
        value = super().__getitem__(key)
        self._mark(key)
        return value

    def get(self, key: Any, default: Any = None) -> Any:
        self._mark(key)
        return super().get(key, default)


class Trial:
    """What an objective gets: ``trial.params`` (or ``trial["lr"]``), ``trial.report(...)``.

    Args:
        number: the trial's number in the study.
        params: its parameters.
        metric: the metric the sweep optimises; reporting it is an intermediate value the
            pruner judges.
        channel: the link to the kernel (see :mod:`nbviz.sweep.channel`).
        flush_interval: seconds between two metric messages (the rate bound per trial).
        decision_timeout: how long a report waits for the pruner's answer before going on.
    """

    def __init__(self, number: int, params: dict[str, Any], metric: str, channel: TrialChannel | None,
                 flush_interval: float = 0.5, decision_timeout: float = 30.0) -> None:
        self.number = number
        self.params = _ReadDict(params)
        self.metric = metric
        self.channel = channel
        self.flush_interval = flush_interval
        self.decision_timeout = decision_timeout
        self.ended: str | None = None  # "pruned" or "stopped" once the kernel said so
        self.last_value: float | None = None
        self.messages = 0
        self._points: dict[str, list[list[float]]] = {}
        self._last_flush = time.monotonic()

    def __getitem__(self, name: str) -> Any:
        return self.params[name]

    # ---- metrics ----------------------------------------------------------------------------
    def log(self, step: int, **metrics: float) -> bool:
        """Record metrics at ``step`` (sent at most every ``flush_interval`` s); True once the
        trial should stop (pruned or stopped by the user)."""
        for name, value in metrics.items():
            value = float(value)
            if value == value and abs(value) != float("inf"):
                self._points.setdefault(name, []).append([float(step), value])
        if time.monotonic() - self._last_flush >= self.flush_interval:
            self.flush()
            self._poll()
        return self.ended is not None

    def report(self, step: int, **metrics: float) -> None:
        """Record metrics at ``step``; when they include the sweep's metric, the pruner judges
        it. Raises :class:`Pruned` when the trial should end (pruned, or Stop pressed)."""
        if self.metric in metrics:
            self.log(step, **{k: v for k, v in metrics.items() if k != self.metric})
            self.intermediate(step, float(metrics[self.metric]))
        else:
            self.log(step, **metrics)
        if self.ended is not None:
            raise Pruned(f"trial {self.number} {self.ended} at step {step}")

    def intermediate(self, step: int, value: float) -> str | None:
        """Report the sweep's metric at ``step`` and wait for the pruner's answer."""
        self.last_value = value
        self._points.setdefault(self.metric, []).append([float(step), value])
        self.flush()
        self._send({"t": "report", "step": int(step), "value": value})
        deadline = time.monotonic() + self.decision_timeout
        delay = 0.005
        while self.channel is not None and time.monotonic() < deadline:
            decision = self.channel.decision(max(0.01, deadline - time.monotonic()))
            if decision is not None and (decision.get("stop") or decision.get("step", -1) >= step):
                self._apply(decision)
                break
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
        return self.ended

    def should_stop(self) -> bool:
        """True once the kernel asked this trial to end (checked at most every flush)."""
        self._poll()
        return self.ended is not None

    def flush(self) -> None:
        self._last_flush = time.monotonic()
        if not self._points:
            return
        points = {}
        for name, rows in self._points.items():
            if len(rows) > POINTS_PER_FLUSH:
                stride = len(rows) / POINTS_PER_FLUSH
                rows = [rows[int(i * stride)] for i in range(POINTS_PER_FLUSH - 1)] + [rows[-1]]
            points[name] = rows
        self._points = {}
        self._send({"t": "metrics", "points": points})

    def _poll(self) -> None:
        if self.channel is not None and self.ended is None and self.channel.stopped():
            self.ended = "stopped"

    def _apply(self, decision: dict[str, Any]) -> None:
        if self.ended is None:
            if decision.get("stop"):
                self.ended = "stopped"
            elif decision.get("prune"):
                self.ended = "pruned"

    def _send(self, msg: dict[str, Any]) -> None:
        if self.channel is not None:
            self.messages += 1
            self.channel.send({**msg, "n": self.number, "a": getattr(self, "attempt", "")})


class _Streamer(Callback):
    """Streams a TrainingSession's history through a trial, and stops it when told."""

    def __init__(self, trial: Trial, names: tuple[str, ...] = ("train_loss",)) -> None:
        self.trial = trial
        self.names = names

    def on_batch_end(self, run: Any) -> None:
        history = run.history
        values = {n: v for n in self.names if (v := history.last(n)) is not None}
        if self.trial.log(run.step_count, **values):
            run.request_stop()

    def on_epoch_end(self, run: Any) -> None:
        history = run.history
        epoch_metrics = ("val_loss", "val_accuracy", "train_accuracy", "train_epoch_loss")
        values = {n: v for n in epoch_metrics if n != self.trial.metric
                  and (v := history.last(n)) is not None}
        self.trial.log(run.step_count, **values)
        value = history.last(self.trial.metric)
        if value is not None and self.trial.intermediate(run.step_count, value) is not None:
            run.request_stop()


def call_objective(objective: Callable[..., Any], style: str, trial: Trial) -> Any:
    """Call ``objective`` as its signature asks: with the trial, or with the parameters."""
    return objective(trial) if style == "trial" else objective(**trial.params)


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except Exception:
        return f"{socket.gethostname()}:{os.getpid()} (in the kernel)"


DASK_WORKER_MALLOC_ENV = ("MALLOC_TRIM_THRESHOLD_",)
"""Set by Dask's nanny (65536), not by the user. Setting any malloc threshold turns off
glibc's dynamic mmap threshold, so a small CNN's buffers of 128 KiB or more are mmapped and
unmapped at every step: measured, 700,000 page faults and twice the CPU per 60 SmallCNN steps
compared with the same steps in the kernel. Trials on workers therefore tune the allocator
as a :class:`~nbviz.TrainingSession` does in the kernel (``NBVIZ_TUNE_ALLOCATOR=0`` opts out)."""


def run_trial(objective: Callable[..., Any], style: str, number: int, params: dict[str, Any],
              metric: str, make_channel: Callable[[str], TrialChannel], threads: int | None,
              flush_interval: float, keep_checkpoint: bool, tune_malloc: bool = False) -> dict[str, Any]:
    """Run one trial where it is called (a Dask worker, or the kernel); never raises.

    ``tune_malloc`` (on Dask workers) tunes glibc malloc first, over Dask's own setting: see
    :data:`DASK_WORKER_MALLOC_ENV`.

    Returns a dict of plain values: ``state`` (complete, pruned, stopped, failed), ``value``,
    ``error`` and ``traceback``, ``worker``, ``seconds``, ``history`` and ``checkpoint`` (for
    session objectives), ``messages`` sent.
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    attempt = uuid.uuid4().hex[:12]
    if threads:
        import torch

        torch.set_num_threads(threads)
    channel = make_channel(attempt)
    if tune_malloc:
        from ..session.allocator import tune_for_training

        tune_for_training(ignore_env=DASK_WORKER_MALLOC_ENV)
    trial = Trial(number, dict(params), metric, channel, flush_interval)
    trial.attempt = attempt  # type: ignore[attr-defined]
    worker = _worker_name()
    trial._send({"t": "start", "worker": worker})
    result: dict[str, Any] = {"state": "complete", "value": None, "worker": worker, "attempt": attempt,
                              "history": None, "checkpoint": None}
    try:
        returned = call_objective(objective, style, trial)
        from ..session import TrainingSession

        if isinstance(returned, TrainingSession):
            _train(returned, trial, result, keep_checkpoint)
        else:
            if returned is not None:
                result["value"] = float(returned)
            elif trial.last_value is not None:
                result["value"] = trial.last_value
            else:
                raise ValueError(f"the objective returned None and never reported {metric!r}: return "
                                 f"the final value, or call trial.report(step, {metric}=value)")
            if trial.ended is not None:
                result["state"] = trial.ended
    except Pruned:
        result["state"] = trial.ended or "pruned"
        result["value"] = trial.last_value
    except Exception as exc:
        result.update(state="failed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
    try:
        trial.flush()
    except Exception:  # the link is gone: the result still goes back with the task
        pass
    result["seconds"] = time.perf_counter() - started
    result["cpu_seconds"] = time.process_time() - cpu_started  # the whole process's (a worker runs one trial)
    result["messages"] = trial.messages
    return result


def _train(session: Any, trial: Trial, result: dict[str, Any], keep_checkpoint: bool) -> None:
    session.add_callback(_Streamer(trial))
    session.start()
    try:
        session.wait()
    except Exception as exc:  # TrainingError: keep the training thread's own traceback
        result.update(state="failed", error=f"{type(exc.__cause__ or exc).__name__}: {exc.__cause__ or exc}",
                      traceback=session.error_traceback or traceback.format_exc(),
                      history=session.history.state_dict())
        return
    history = session.history
    value = history.last(trial.metric)
    result["history"] = history.state_dict()
    if value is None:
        raise ValueError(f"the session logged no {trial.metric!r} (it logs {history.names()}): pass "
                         f"Sweep(metric=...) one of those, or give the session a val_loader")
    result["value"] = value
    if trial.ended is not None:
        result["state"] = trial.ended
    if keep_checkpoint and result["state"] == "complete":
        result["checkpoint"] = session._checkpoint_state()
