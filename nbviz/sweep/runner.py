"""The kernel's sweep loop (a daemon thread): ask Optuna, run trials on the executor, relay
metrics, answer the pruner, tell Optuna, keep the best checkpoint."""

from __future__ import annotations

import math
import queue
import threading
import time
import traceback
from concurrent.futures import CancelledError
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
import torch

from ..session import checkpoint
from .records import FINAL, TrialRecord
from .trial import run_trial

if TYPE_CHECKING:
    from .sweep import Sweep

TRACEBACK_CHARS = 20_000


def history_path(folder: Path, number: int) -> Path:
    return folder / "trials" / f"trial-{number:05d}.history.pt"


def save_history(folder: Path, number: int, history: dict[str, Any]) -> None:
    """A trial's history beside the study (plain tensors: loads without running code)."""
    path = history_path(folder, number)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(checkpoint.pack_history(history), tmp)
    tmp.replace(path)


def load_history(folder: Path, number: int) -> dict[str, Any] | None:
    path = history_path(folder, number)
    if not path.exists():
        return None
    try:
        return checkpoint.unpack_history(torch.load(path, weights_only=True))
    except Exception:  # a damaged history file costs that trial's curves, nothing else
        return None


class Runner:
    """One run of the sweep loop; :class:`Sweep` starts it and sends it commands."""

    def __init__(self, sweep: Sweep) -> None:
        self.sweep = sweep
        self.commands: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="nbviz-sweep", daemon=True)
        self.futures: dict[Any, tuple[int, optuna.trial.Trial, float]] = {}
        self.error: BaseException | None = None
        self.stopping = False
        self.closing = False  # the loop has ended its work (it may still be closing workers)
        self.stop_asked: set[int] = set()

    # ---- the loop -------------------------------------------------------------------------
    def _run(self) -> None:
        sweep = self.sweep
        try:
            if sweep._left() <= 0 and self.commands.empty():
                sweep.records.status = f"all {sweep.n_trials} trials done (in {sweep.folder})"
                return
            executor = sweep._executor_now()
            sweep.records.status = f"running on {executor.describe()}"
            sweep.records.touch()
            while True:
                self._commands()
                self._events()
                if self.stopping:
                    self._cancel_waiting()
                else:
                    self._fill(executor)
                self._collect()
                if not self.futures and (self.stopping or sweep._left() <= 0):
                    with sweep._lock:  # a clone asked from now on starts a new loop
                        if self.commands.empty() and (self.stopping or sweep._left() <= 0):
                            self.closing = True
                            break
                sweep.inbox.wake.wait(0.05)
                sweep.inbox.wake.clear()
            self._events()
            done = sweep.records
            done.status = ("stopped" if self.stopping else "finished") + \
                f": {sum(r.state in FINAL for r in done.snapshot())} trials recorded in {sweep.folder}"
        except BaseException as exc:  # the sweep's own failure, shown in the view
            self.error = exc
            sweep.records.status = f"the sweep failed: {type(exc).__name__}: {exc}"
            sweep.error_traceback = traceback.format_exc()
        finally:
            sweep.records.touch()
            sweep._loop_ended()

    def _fill(self, executor: Any) -> None:
        sweep = self.sweep
        if sweep.rounds and self.futures:
            return  # a seeded TPE asks a whole round at once: its draws never depend on timing
        slots = sweep.parallel or executor.slots
        while len(self.futures) < slots and sweep._left() > 0:
            trial = sweep.study.ask(fixed_distributions=sweep.space)
            clone_of = trial.user_attrs.get("clone_of")
            record = TrialRecord(trial.number, dict(trial.params), clone_of=clone_of)
            with sweep.records.lock:
                sweep.records.trials[trial.number] = record
                sweep.records.touch()
            future = executor.submit(
                run_trial, sweep.objective, sweep.style, trial.number, dict(trial.params), sweep.metric,
                executor.channel_factory(sweep._channel(trial.number)), executor.threads,
                sweep.flush_interval, sweep.keep_checkpoint, executor.kind == "dask",
                key=f"{sweep._channel(trial.number)}-task")
            self.futures[future] = (trial.number, trial, time.perf_counter())
            future.add_done_callback(lambda _: sweep.inbox.wake.set())  # collect it at once

    def _commands(self) -> None:
        while True:
            try:
                kind, arg = self.commands.get_nowait()
            except queue.Empty:
                return
            if kind == "stop_all":
                self.stopping = True
                for number, _, _ in list(self.futures.values()):
                    self._stop_trial(number)
            elif kind == "stop":
                self._stop_trial(arg)

    def _stop_trial(self, number: int) -> None:
        sweep = self.sweep
        self.stop_asked.add(number)
        record = sweep.records.trials.get(number)
        if record is None or record.state in FINAL:
            return
        if record.attempt:
            sweep._executor_now().stop(f"{sweep._channel(number)}-{record.attempt}")
        else:
            for future, (n, _, _) in self.futures.items():
                if n == number:
                    sweep._executor_now().cancel(future)

    def _cancel_waiting(self) -> None:
        for future, (number, _, _) in list(self.futures.items()):
            record = self.sweep.records.trials.get(number)
            if record is not None and not record.attempt:
                self.sweep._executor_now().cancel(future)

    def _events(self) -> None:
        sweep = self.sweep
        records = sweep.records
        for msg in sweep.inbox.drain():
            number, attempt = msg.get("n"), msg.get("a", "")
            kind = msg.get("t")
            if not isinstance(number, int):
                continue
            with records.lock:
                record = records.trials.get(number)
                if record is None:
                    continue
                if kind == "start":
                    if record.attempt and record.attempt != attempt:  # its worker died: run again
                        record.curves.clear()
                        record.best = None
                    record.attempt, record.worker = attempt, str(msg.get("worker", ""))
                    record.attempts += 1
                    record.state, record.started = "running", time.monotonic()
                    records.touch()
                    if number in self.stop_asked:
                        self._stop_trial(number)
                    continue
                if attempt != record.attempt:
                    continue  # a late message of an attempt whose worker died
            if kind == "metrics":
                records.add_points(number, msg.get("points", {}), sweep.metric)
            elif kind == "report":
                self._judge(number, attempt, int(msg["step"]), float(msg["value"]))

    def _judge(self, number: int, attempt: str, step: int, value: float) -> None:
        sweep = self.sweep
        trial = next((t for n, t, _ in self.futures.values() if n == number), None)
        prune = False
        if trial is not None and math.isfinite(value):
            if step not in trial.storage.get_trial(trial._trial_id).intermediate_values:
                trial.report(value, step)
            prune = trial.should_prune()
        sweep._executor_now().decide(f"{sweep._channel(number)}-{attempt}",
                                     {"step": step, "prune": prune, "stop": number in self.stop_asked})

    def _collect(self) -> None:
        for future in [f for f in self.futures if f.done()]:
            number, trial, submitted = self.futures.pop(future)
            self._events()  # the last metrics of this trial first
            try:
                result = future.result()
            except CancelledError:
                result = {"state": "stopped", "value": None}
            except Exception as exc:  # the worker died every time it ran the trial (KilledWorker)
                result = {"state": "failed", "value": None, "error": f"{type(exc).__name__}: {exc}",
                          "traceback": "".join(traceback.format_exception(exc))}
            if future.cancelled() or getattr(future, "status", "") == "cancelled":
                result = {"state": "stopped", "value": None}
            finishing = time.perf_counter()
            self.sweep._finish(trial, result, finishing - submitted)
            record = self.sweep.records.trials[number]  # the kernel's own work counts as overhead too
            record.overhead += time.perf_counter() - finishing  # type: ignore[attr-defined]
