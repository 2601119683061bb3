"""``nbviz.Sweep``: hyperparameter search on Optuna, trials on Dask, shown live."""

from __future__ import annotations

import hashlib
import math
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

from ..session import checkpoint
from .channel import Inbox
from .objective import call_style, check_reads
from .records import FINAL, Records, TrialRecord
from .runner import Runner, load_history, save_history
from .space import SweepSpaceError, coerce, grid, parse_space
from .study import (
    INTERRUPTED,
    METHODS,
    counted,
    direction_for,
    make_pruner,
    make_sampler,
    open_study,
    recover,
)

_STATES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed"}


class Sweep:
    """Search hyperparameters: every trial shown live, one trial stopped or cloned at will.

    Args:
        objective: ``build(lr, weight_decay, ...)`` or ``build(trial)`` returning a
            :class:`nbviz.TrainingSession` (trained on the worker, its history streamed), or a
            plain ``fn(trial)`` that trains, calls ``trial.report(step, val_loss=...)`` and
            returns the final value. Functions and classes defined in the notebook work on
            the workers (Dask sends them with cloudpickle).
        space: parameter name -> ``log_uniform(lo, hi)``, ``uniform(lo, hi)``,
            ``int_range(lo, hi)``, a tuple range or a list of choices (see ``nbviz.sweep.space``).
        method: "grid", "random" or "tpe" (Optuna's samplers).
        n_trials: trials in all (grid: defaults to the grid's size); resuming counts the
            trials already on disk.
        pruner: None, "median", "successive_halving", "hyperband" or an Optuna pruner; it
            judges the metric each time a trial reports it (a session: every epoch).
        executor: None (a local Dask cluster: one worker process per core, torch threads
            split between them), a ``distributed.Client``, a scheduler address
            ("tcp://host:8786"), or "serial" (one trial at a time in this kernel).
        metric: what the sweep optimises (a session's ``val_loss`` by default).
        direction: "minimize" or "maximize" (guessed from the metric's name).
        seed: makes the samplers reproducible; a seeded TPE asks trials in rounds of
            ``parallel`` so its draws never depend on which worker finishes first.
        storage: the folder of sweeps; this one lives in ``storage/name`` (Optuna journal
            ``study.log``, ``best.pt``, trial histories). The same name resumes it.
        name: the sweep's name (default: from the method, space, metric and seed).
        parallel: trials at once (default: every worker thread of the cluster).
        keep_checkpoint: save the best trial's checkpoint (``best.pt``, the TrainingSession
            format) for session objectives.
        flush_interval: seconds between two metric messages of one trial.

    Raises:
        SweepSpaceError: (a ValueError) an empty, inverted or non-positive log range, an
            unknown method or pruner, a space key the objective never reads; before any trial.

    Example:
        >>> sweep = nbviz.Sweep(build, {"lr": [1e-3, 1e-2, 1e-1], "weight_decay": [0, 1e-4]})
        >>> sweep            # the live view, with a Run button; or sweep.start()
        >>> sweep.wait(); sweep.best_params, sweep.dataframe()
    """

    def __init__(self, objective: Callable[..., Any], space: dict[str, Any], method: str = "grid",
                 n_trials: int | None = None, pruner: Any = None, executor: Any = None, *,
                 metric: str = "val_loss", direction: str | None = None, seed: int | None = None,
                 storage: str | Path = "nbviz-sweeps", name: str | None = None,
                 parallel: int | None = None, keep_checkpoint: bool = True,
                 flush_interval: float = 0.5) -> None:
        if method not in METHODS:
            raise SweepSpaceError(f"unknown method {method!r}; use one of {', '.join(repr(m) for m in METHODS)}")
        self.space = parse_space(space)
        self.method, self.metric, self.seed = method, metric, seed
        self.direction = direction_for(metric, direction)
        self.style = call_style(objective, self.space)
        if self.style == "trial":
            check_reads(objective, self.space, metric)
        self.objective = objective
        sampler = make_sampler(method, self.space, seed)
        self.pruner = make_pruner(pruner)
        self.n_trials = self._check_trials(n_trials)
        if parallel is not None and (isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1):
            raise ValueError(f"parallel must be a whole number >= 1, got {parallel!r}")
        if not (isinstance(flush_interval, (int, float)) and 0.05 <= flush_interval <= 60):
            raise ValueError(f"flush_interval must be 0.05 to 60 seconds, got {flush_interval!r}")
        self.parallel, self.keep_checkpoint, self.flush_interval = parallel, keep_checkpoint, float(flush_interval)
        self.rounds = method == "tpe" and seed is not None
        self.name = name or self._default_name()
        self.folder = Path(storage).expanduser() / self.name
        self.study = open_study(self.folder, self.name, self.direction, sampler, self.pruner)
        self._executor_spec = executor
        self._check_executor(executor)
        self._executor: Any = None
        self.inbox = Inbox()
        self._uid = uuid.uuid4().hex[:8]
        self.records = Records(minimize=self.direction == "minimize")
        self.best_checkpoint: Path | None = None
        self.error_traceback: str | None = None
        self._runner: Runner | None = None
        self._lock = threading.RLock()
        self._resume()

    # ---- checks -----------------------------------------------------------------------------
    def _check_trials(self, n_trials: int | None) -> int:
        size = math.prod(len(v) for v in grid(self.space).values()) if self.method == "grid" else None
        if n_trials is None:
            if size is None:
                raise SweepSpaceError(f"method={self.method!r} needs n_trials= (how many trials to run)")
            return size
        if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
            raise SweepSpaceError(f"n_trials must be a whole number >= 1, got {n_trials!r}")
        if size is not None and n_trials > size:
            raise SweepSpaceError(f"the grid has {size} points, so n_trials={n_trials} would repeat some; "
                                  f"use n_trials <= {size} or leave it out")
        return n_trials

    @staticmethod
    def _check_executor(executor: Any) -> None:
        if executor is None or executor == "serial" or isinstance(executor, str):
            return
        from distributed import Client

        if not isinstance(executor, Client):
            raise TypeError(f"executor must be None (a local Dask cluster), 'serial', a scheduler address "
                            f"or a distributed.Client, got {type(executor).__name__}")

    def _default_name(self) -> str:
        key = repr((self.method, sorted((k, repr(v)) for k, v in self.space.items()), self.metric, self.seed,
                    getattr(self.objective, "__qualname__", "")))
        return f"{self.method}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"

    # ---- resuming ---------------------------------------------------------------------------
    def _resume(self) -> None:
        """Load finished trials from disk; trials a dead kernel left running run again."""
        for params in recover(self.study):
            self.study.enqueue_trial(params, user_attrs={"rerun": True})
        for trial in self.study.get_trials(deepcopy=False):
            if not trial.state.is_finished() or trial.user_attrs.get(INTERRUPTED):
                continue
            attrs = trial.user_attrs
            record = TrialRecord(trial.number, dict(trial.params), state=attrs.get("nbviz_state") or
                                 _STATES.get(trial.state.name, "failed"), value=trial.value,
                                 worker=attrs.get("worker", ""), attempts=attrs.get("attempts", 0),
                                 seconds=attrs.get("seconds"), error=attrs.get("error", ""),
                                 traceback=attrs.get("traceback", ""), clone_of=attrs.get("clone_of"))
            record.history = load_history(self.folder, trial.number)
            self._curves_from_history(record)
            self.records.trials[trial.number] = record
        best = self.folder / "best.pt"
        if best.exists():
            self.best_checkpoint = best
        done = len(self.records.trials)
        if done:
            self.records.status = f"resumed from {self.folder}: {done} trial(s) on disk"

    def _curves_from_history(self, record: TrialRecord) -> None:
        if not record.history:
            return
        for name, series in record.history["series"].items():
            if name in ("wall_time", "lr", "samples_per_sec"):
                continue
            for x, y in zip(series["x"], series["y"], strict=False):
                record.curve(name).append(float(x), float(y))
            if name not in self.records.metrics:
                self.records.metrics.append(name)
            if name == self.metric and len(series["y"]):
                values = [float(v) for v in series["y"]]
                record.best = min(values) if self.records.minimize else max(values)

    # ---- running ----------------------------------------------------------------------------
    def _left(self) -> int:
        return self.n_trials - len(counted(self.study)) - sum(
            1 for r in self.records.trials.values() if r.state not in FINAL)

    def _channel(self, number: int) -> str:
        return f"nbviz-{self._uid}-{number}"

    def _executor_now(self) -> Any:
        with self._lock:
            if self._executor is None:
                from .executors import DaskExecutor, SerialExecutor

                spec = self._executor_spec
                self.records.status = "starting the workers..."
                self.records.touch()
                self._executor = SerialExecutor(self.inbox) if spec == "serial" else \
                    DaskExecutor(self.inbox, f"nbviz-sweep-{self._uid}", spec)
            return self._executor

    @property
    def running(self) -> bool:
        runner = self._runner
        return runner is not None and runner.thread.is_alive()

    def start(self) -> None:
        """Run the trials still to run in the background; returns at once."""
        with self._lock:
            runner = self._runner
            if runner is not None and runner.thread.is_alive() and not runner.closing:
                return
        if runner is not None and runner.closing:
            runner.thread.join()  # it lets its workers go first
        with self._lock:
            if self.running and self._runner is not runner:
                return
            self._runner = Runner(self)
            self._runner.thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the sweep ends. Raises TimeoutError, or the sweep's own failure."""
        runner = self._runner
        if runner is None:
            return
        runner.thread.join(timeout)
        if runner.thread.is_alive():
            raise TimeoutError(f"the sweep is still running after {timeout} s")
        if runner.error is not None:
            raise RuntimeError(f"the sweep failed: {runner.error}") from runner.error

    def stop(self) -> None:
        """Stop every running trial (recorded as stopped) and run no more."""
        runner = self._runner
        if runner is not None and runner.thread.is_alive():
            runner.commands.put(("stop_all", None))
            self.inbox.wake.set()

    def stop_trial(self, number: int) -> None:
        """Stop one trial (at its next metric flush); the sweep goes on."""
        record = self._record(number)
        if record.state in FINAL:
            raise ValueError(f"trial {number} already ended ({record.state})")
        runner = self._runner
        if runner is not None:
            runner.commands.put(("stop", number))
            self.inbox.wake.set()

    def clone(self, number: int, **changes: Any) -> None:
        """Run trial ``number`` again with some parameters changed, e.g. ``clone(3, lr=1e-3)``.

        Raises:
            SweepSpaceError: a name not in the space, or a value outside it.
        """
        record = self._record(number)
        params = dict(record.params)
        for name, value in changes.items():
            if name not in self.space:
                raise SweepSpaceError(f"{name!r} is not a parameter of this sweep (it has {sorted(self.space)})")
            params[name] = coerce(name, self.space[name], value)
        self.study.enqueue_trial(params, user_attrs={"clone_of": number}, skip_if_exists=False)
        with self._lock:
            self.n_trials += 1
        self.start()

    def _record(self, number: int) -> TrialRecord:
        record = self.records.trials.get(number)
        if record is None:
            raise ValueError(f"no trial {number} in this sweep (trials: {sorted(self.records.trials)})")
        return record

    def _finish(self, trial: optuna.trial.Trial, result: dict[str, Any], elapsed: float) -> None:
        """Record a trial's result in Optuna and in the records (runner thread)."""
        state = result.get("state", "failed")
        value = result.get("value")
        if state == "complete" and (value is None or not math.isfinite(value)):
            state, result["error"] = "failed", f"the objective gave no finite value ({value!r})"
        attrs = {"nbviz_state": state, "worker": result.get("worker", ""), "seconds": result.get("seconds"),
                 "error": result.get("error", ""), "traceback": (result.get("traceback") or "")[-20_000:]}
        record = self.records.trials[trial.number]
        attrs["attempts"] = max(record.attempts, 1 if state != "stopped" else 0)
        for key, item in attrs.items():
            trial.set_user_attr(key, item)
        if state == "complete":
            self.study.tell(trial, value)
        elif state in ("pruned", "stopped"):
            self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        history = result.get("history")
        if history:
            save_history(self.folder, trial.number, history)
        with self.records.lock:
            best = self.records.best()
            record.state, record.value = state, value
            record.worker = result.get("worker", record.worker)
            record.error, record.traceback = attrs["error"], attrs["traceback"]
            record.seconds, record.ended, record.history = result.get("seconds"), time.monotonic(), history
            record.overhead = max(0.0, elapsed - (result.get("seconds") or 0.0))  # type: ignore[attr-defined]
            record.messages = result.get("messages", 0)  # type: ignore[attr-defined]
            record.cpu_seconds = result.get("cpu_seconds")  # type: ignore[attr-defined]
            if not record.curves and history:
                self._curves_from_history(record)
            self.records.touch()
        ckpt = result.get("checkpoint")
        if state == "complete" and ckpt is not None and self.records.better(value, best.value if best else None):
            self.best_checkpoint = checkpoint.write_atomic(ckpt, self.folder / "best.pt")
            (self.folder / "best.txt").write_text(f"trial {trial.number}: {self.metric}={value}\n{trial.params}\n")
        self._executor_now().forget(f"{self._channel(trial.number)}-{record.attempt}")

    def _loop_ended(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.close()  # a local cluster's processes go; a user's Client stays

    # ---- results ----------------------------------------------------------------------------
    @property
    def best_trial(self) -> TrialRecord | None:
        return self.records.best()

    @property
    def best_params(self) -> dict[str, Any] | None:
        best = self.records.best()
        return None if best is None else dict(best.params)

    @property
    def best_value(self) -> float | None:
        best = self.records.best()
        return None if best is None else best.value

    @property
    def trials(self) -> list[TrialRecord]:
        return self.records.snapshot()

    def dataframe(self) -> Any:
        """The trials as a pandas DataFrame: number, parameters, state, value, best, duration,
        worker, attempts, error (one row per trial, waiting and running ones too)."""
        import pandas as pd

        rows = []
        for r in self.records.snapshot():
            rows.append({"number": r.number, **{f"param_{k}": v for k, v in r.params.items()},
                         "state": r.state, "value": r.value, f"best_{self.metric}": r.best,
                         "duration_s": r.duration, "worker": r.worker, "attempts": r.attempts,
                         "clone_of": r.clone_of, "error": r.error})
        return pd.DataFrame(rows).set_index("number") if rows else pd.DataFrame()

    def trial_session(self, number: int) -> Any:
        """A TrainingSession of trial ``number`` built in this kernel, holding its history (and,
        for the best trial, its trained weights): give it to ``nbviz.Dashboard``."""
        record = self._record(number)
        if self.style == "trial":
            from .trial import Trial

            session = self.objective(Trial(number, dict(record.params), self.metric, None))
        else:
            session = self.objective(**record.params)
        from ..session import TrainingSession

        if not isinstance(session, TrainingSession):
            raise ValueError("this sweep's objective trains by itself (it returns no TrainingSession), so "
                             "a trial has no dashboard; its curves are in the sweep's view")
        best = self.records.best()
        if best is not None and best.number == number and self.best_checkpoint is not None:
            session.restore(self.best_checkpoint)
        elif record.history:
            session.history.load_state_dict(record.history)
        return session

    def view(self) -> Any:
        from ..views.sweep import SweepView

        return SweepView(self)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.view())

    def close(self) -> None:
        """Stop the sweep and let its workers go (a user's Client stays open)."""
        self.stop()
        runner = self._runner
        if runner is not None:
            runner.thread.join(30)

    def __repr__(self) -> str:
        done = sum(r.state in FINAL for r in self.records.snapshot())
        return (f"Sweep({self.method}, {done}/{self.n_trials} trials, best {self.metric}="
                f"{self.best_value!r}, folder={str(self.folder)!r})")
