"""What a dashboard needs from a run, shared by TrainingSession and the plain-loop watch()."""

from __future__ import annotations

import abc
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import Any, TypeVar

import torch
from torch import nn

from . import hyperparams, live
from .allocator import AllocatorTuning
from .callbacks import HOOKS, Callback
from .control import TrainingControl
from .history import History

log = logging.getLogger("nbviz")
T = TypeVar("T")


def check_model(model: object) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be a torch.nn.Module, got {type(model).__name__}. "
            "Wrap plain functions in an nn.Module subclass.")
    return model


class SessionBase(abc.ABC):
    """Control, history, hyperparameters and probe access for one model being trained."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer | None,
                 history_capacity: int = 2048) -> None:
        self.model = check_model(model)
        if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.control = TrainingControl()
        self.history = History(history_capacity)
        self.step_count = 0
        self.epoch = 0
        self.epochs: int | None = None
        self.steps_per_epoch: int | None = None
        self.batch_size: int | None = None
        self.status_message = ""
        self.error: BaseException | None = None
        self.error_traceback: str | None = None
        self._callbacks: list[Callback | Any] = []  # replaced, never mutated: see _hooks
        self._hook_cache: tuple[list[Any], dict[str, list[tuple[Any, Callable[..., Any]]]]] = ([], {})
        self.lr_schedulers: list[Any] = []  # rescaled when the lr is changed (see set_hyperparameter)
        self._model_lock = threading.RLock()
        self._requests_lock = threading.Lock()
        self._requested: dict[str, tuple[float, Future]] = {}
        self._probe_cache: tuple[torch.Tensor, torch.Tensor] | None = None
        self._probe_exhausted = False
        self._started_at = time.monotonic()
        self.allocator: AllocatorTuning | None = None  # what the CPU allocator tuning did
        live.track(self)

    def allocator_note(self) -> str | None:
        """One line on how this run's memory allocator is set up, for the dashboard."""
        return None

    # ---- what the loop is doing ---------------------------------------------------------
    @property
    @abc.abstractmethod
    def loop_active(self) -> bool:
        """True while a training loop is between batches of this run (running or paused)."""

    @property
    @abc.abstractmethod
    def state(self) -> str:
        """One of idle, running, paused, stopped, finished, failed."""

    @abc.abstractmethod
    def start(self) -> None:
        """Start (or resume) the run where the session owns the loop; otherwise say how."""

    def _in_loop_thread(self) -> bool:
        return False

    @property
    def loop_thread(self) -> threading.Thread | None:
        """The background thread nbviz started to run this run's loop, if any."""
        return None

    @property
    def fires_backward_hooks(self) -> bool:
        """Whether ``on_after_backward`` fires (a watch() needs the optimizer to see it)."""
        return True

    @property
    def steering(self) -> str:
        """Which path brings the dashboard's clicks to the loop, in a few words."""
        return "training thread"

    # ---- commands, safe from any thread -------------------------------------------------
    def pause(self) -> None:
        """Pause at the next batch boundary."""
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    def step(self, n: int = 1) -> None:
        """Train exactly ``n`` more batches, then pause."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"step(n) needs a whole number of batches >= 1, got {n!r}")
        self.control.step(n)

    def request_stop(self) -> None:
        """Ask the loop to stop at its next batch boundary; returns at once."""
        self.control.request_stop()

    def run_at_batch_boundary(self, fn: Callable[[], T]) -> Future:
        """Run ``fn`` where it cannot race the training step; the Future holds its result.

        While a loop is active ``fn`` runs in its thread at the next batch boundary (at once
        if paused); otherwise it runs now, in the calling thread, under the model lock.
        """
        with self._model_lock:
            if self.loop_active and not self._in_loop_thread():
                return self.control.submit(fn)
            future: Future = Future()
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)
            return future

    def set_hyperparameter(self, name: str, value: float) -> Future:
        """Change ``lr``, ``weight_decay`` or ``momentum`` from the next batch on.

        Raises:
            HyperparameterError: the value is refused (NaN, <= 0 learning rate, absurdly
                large, unknown name); the old value stays in force.
        """
        value = hyperparams.validate(name, value)
        if self.optimizer is None:
            raise hyperparams.HyperparameterError("this run has no optimizer to change")
        hyperparams.check_supported(self.optimizer, name)
        with self._requests_lock:  # the last one asked for is the one left in force
            future = self.run_at_batch_boundary(lambda: self._apply_hyperparameter(name, value))
            self._requested[name] = (value, future)
        return future

    def requested_hyperparameter(self, name: str) -> float | None:
        """The value of ``name`` that will be in force after pending changes are applied.

        Front ends compare a new value with this, not with the value in force: a value set
        and set back within one batch must end with the second in force.
        """
        with self._requests_lock:
            pending = self._requested.get(name)
            if pending is not None and not pending[1].done():
                return pending[0]
        return self.get_hyperparameter(name)

    def _apply_hyperparameter(self, name: str, value: float) -> hyperparams.Change:
        assert self.optimizer is not None
        change = hyperparams.apply(self.optimizer, name, value)
        if name == "lr" and change.old > 0:
            self._rescale_schedulers(value / change.old)
        self.history.add_event(self.step_count, "hyperparameter",
                               f"{name}: {change.old:.3g} -> {value:.3g}", self.wall_time(),
                               name=name, old=change.old, new=value)
        if name == "lr":
            self.history.log(self.step_count, lr=value)
        return change

    def _rescale_schedulers(self, factor: float) -> None:
        """Scale what the LR schedulers compute from (``base_lrs``, ``initial_lr``), so the next
        scheduler step keeps the user's new learning rate instead of undoing it."""
        for scheduler in self.lr_schedulers:
            if getattr(scheduler, "base_lrs", None):
                scheduler.base_lrs = [lr * factor for lr in scheduler.base_lrs]
            last = getattr(scheduler, "_last_lr", None)
            if last:
                scheduler._last_lr = [lr * factor for lr in last]
            optimizer = getattr(scheduler, "optimizer", None) or self.optimizer
            for group in optimizer.param_groups if optimizer is not None else ():
                if "initial_lr" in group:
                    group["initial_lr"] *= factor

    def get_hyperparameter(self, name: str) -> float | None:
        return None if self.optimizer is None else hyperparams.current(self.optimizer, name)

    @property
    def lr(self) -> float | None:
        return self.get_hyperparameter("lr")

    @lr.setter
    def lr(self, value: float) -> None:
        self.set_hyperparameter("lr", value)

    # ---- callbacks ----------------------------------------------------------------------
    def add_callback(self, callback: Callback | Any) -> None:
        """Fire ``callback``'s hooks (see :class:`nbviz.Callback`) from the training loop."""
        if not any(callable(getattr(callback, hook, None)) for hook in HOOKS):
            raise TypeError(f"{type(callback).__name__} has none of the hooks {', '.join(HOOKS)}; "
                            "subclass nbviz.Callback and override the ones you need")
        with self._model_lock:
            if callback not in self._callbacks:
                self._callbacks = [*self._callbacks, callback]

    def remove_callback(self, callback: Callback | Any) -> None:
        with self._model_lock:
            self._callbacks = [c for c in self._callbacks if c is not callback]

    def _hooks(self, hook: str) -> list[tuple[Any, Callable[..., Any]]]:
        """(callback, bound method) of every callback that implements ``hook``, found once per
        set of callbacks: a step fires two hooks, and looking each method up on every callback
        (most inherit Callback's no-ops) was per-step work for nothing."""
        callbacks = self._callbacks
        cached, found = self._hook_cache
        if cached is not callbacks:
            found = {}
            self._hook_cache = (callbacks, found)
        methods = found.get(hook)
        if methods is None:
            no_op = getattr(Callback, hook, None)
            methods = []
            for callback in callbacks:
                method = getattr(callback, hook, None)
                if method is not None and (no_op is None or getattr(method, "__func__", None) is not no_op):
                    methods.append((callback, method))
            found[hook] = methods
        return methods

    def _fire(self, hook: str, *args: Any) -> None:
        for callback, method in self._hooks(hook):
            try:
                method(self, *args)
            except Exception as exc:  # a broken view must never stop training
                self.remove_callback(callback)
                self.history.add_event(self.step_count, "view_error",
                                       f"{type(callback).__name__} failed and was detached: {exc!r}",
                                       self.wall_time())
                log.exception("nbviz view callback %r failed", callback)

    # ---- probe data ---------------------------------------------------------------------
    def _probe_source(self) -> Iterable | None:
        return None

    def probe_batch(self, n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
        """A fixed batch of up to ``n`` (inputs, targets) on the CPU, the same every call.

        Drawn once from the validation loader (else the training loader), at a batch
        boundary and with the RNG forked, so drawing it never changes what training sees.
        """
        cache = self._probe_cache
        if cache is not None and (len(cache[0]) >= n or self._probe_exhausted):
            return cache[0][:n], cache[1][:n]
        source = self._probe_source()
        if source is None:
            raise ValueError("this run has no data to probe; pass probe_data= to nbviz.watch()")
        self._probe_cache = self.run_at_batch_boundary(lambda: self._draw_probe(source, n)).result()
        return self._probe_cache

    def _draw_probe(self, source: Iterable, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        inputs_list, targets_list, count = [], [], 0
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            for batch in source:
                inputs, targets = self._split_batch(batch)
                inputs_list.append(inputs.detach().cpu())
                targets_list.append(targets.detach().cpu())
                count += len(inputs)
                if count >= n:
                    break
        if not inputs_list:
            raise ValueError("the data loader yielded no batches to probe")
        self._probe_exhausted = count < n
        return torch.cat(inputs_list)[:n], torch.cat(targets_list)[:n]

    @abc.abstractmethod
    def _split_batch(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, targets) of one batch of this run's data."""

    def wall_time(self) -> float:
        return time.monotonic() - self._started_at
