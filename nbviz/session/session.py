"""TrainingSession: trains a model in a background thread, steered from widgets."""

from __future__ import annotations

import copy
import datetime
import math
import os
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sized
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..probes import locate_forward_failure, model_device
from . import allocator, checkpoint
from .autosave import AutoSave
from .base import SessionBase
from .batches import BatchFormat, to_device
from .control import StopTraining
from .norm_stats import NormStatsBackup

MAX_EPOCHS = 1_000_000


def _is_logits(outputs: Any, targets: torch.Tensor) -> bool:
    """True for N x C scores against N class indices (what accuracy is counted on)."""
    return (isinstance(outputs, torch.Tensor) and outputs.dim() == 2 and targets.dim() == 1
            and not targets.is_floating_point())


def _default_loss_message(model: nn.Module, outputs: Any) -> str:
    if isinstance(outputs, dict):
        keys = [str(k) for k in outputs]
        key = "logits" if "logits" in outputs else (keys[0] if keys else "logits")
        what, pick = f"a dict with keys {keys}", f"out[{key!r}]"
    elif isinstance(outputs, (tuple, list)):
        what, pick = f"a {type(outputs).__name__} of {len(outputs)}", "out[0]"
    else:
        what, pick = f"a {type(outputs).__name__}", "out.logits"
    return (f"{type(model).__name__} returns {what}, but the default loss (nn.CrossEntropyLoss) "
            f"needs the logits tensor: pass loss_fn=lambda out, y: "
            f"nn.functional.cross_entropy({pick}, y) to TrainingSession, or return the tensor "
            "from forward")


def loader_generators(loader: object) -> list[torch.Generator]:
    """The torch Generators a DataLoader (or its samplers) draws its order from."""
    found: list[torch.Generator] = []
    for owner in (loader, getattr(loader, "sampler", None),
                  getattr(getattr(loader, "batch_sampler", None), "sampler", None)):
        gen = getattr(owner, "generator", None)
        if isinstance(gen, torch.Generator) and all(gen is not g for g in found):
            found.append(gen)
    return found


class _OrderKept:
    """Iterates a loader and then puts its generators back, so its next epoch is unchanged."""

    def __init__(self, loader: Iterable) -> None:
        self.loader = loader

    def __iter__(self) -> Any:
        gens = loader_generators(self.loader)
        states = [g.get_state() for g in gens]
        try:
            yield from self.loader
        finally:
            for gen, state in zip(gens, states, strict=True):
                gen.set_state(state)


class _AccuracyCounter:
    """Correct predictions of an epoch, counted on the device with few ops per step: each
    step keeps its (fresh) hit mask; up to ``flush`` masks are summed in one go."""

    def __init__(self, flush: int = 32) -> None:
        self.flush = flush
        self._pending: list[torch.Tensor] = []
        self._correct: torch.Tensor | None = None

    def add(self, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        self._pending.append(outputs.detach().argmax(1) == targets)
        if len(self._pending) >= self.flush:
            self._settle()

    def _settle(self) -> None:
        if not self._pending:
            return
        count = torch.cat(self._pending).sum()
        self._pending.clear()
        self._correct = count if self._correct is None else self._correct + count

    def total(self) -> int:
        """Correct predictions so far (a host sync; once an epoch)."""
        self._settle()
        return 0 if self._correct is None else int(self._correct)


class TrainingError(RuntimeError):
    """Training failed in the background thread; ``__cause__`` is the original exception."""


LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _check_loader(name: str, loader: object, required: bool) -> None:
    if loader is None:
        if required:
            raise TypeError(f"{name} is required: pass a torch.utils.data.DataLoader")
        return
    if isinstance(loader, (torch.Tensor, str, bytes)) or not isinstance(loader, Iterable):
        raise TypeError(
            f"{name} must be an iterable of batches such as a torch.utils.data.DataLoader, got "
            f"{type(loader).__name__}. Wrap tensors with DataLoader(TensorDataset(x, y), batch_size=64).")


class TrainingSession(SessionBase):
    """Train ``model`` on ``train_loader`` in a background thread.

    The cell that calls :meth:`start` returns at once; widgets (and code) pause, step, stop
    and change hyperparameters, which apply at the next batch boundary.

    Args:
        model: the network to train.
        train_loader: yields (inputs, targets) batches (tuples, lists, or dicts keyed by
            ``input_key``/``target_key``).
        val_loader: evaluated after every epoch for validation loss and accuracy.
        loss_fn: ``loss_fn(outputs, targets)``; defaults to cross-entropy.
        optimizer: defaults to SGD with momentum 0.9 at learning rate ``lr``.
        epochs: how many passes over ``train_loader`` :meth:`start` runs.
        lr: learning rate of the default optimizer.
        device: where batches go; defaults to the model's device.
        input_key, target_key: the keys of dict batches.
        history_capacity: points kept per series (older points are merged).
        save_every: save a checkpoint every this many steps (an int) or this often (a
            ``datetime.timedelta``), at a batch boundary in the training thread, into
            ``save_to`` as ``step-00000500.pt``. A failed periodic save is recorded as a
            ``checkpoint_error`` event (and in ``session.autosave.last_error``); training goes on.
        save_to: the folder for periodic checkpoints (required with ``save_every``).
        keep_last: how many periodic checkpoints to keep (None keeps all); older ones this
            session wrote are deleted once a newer one is safely on disk.
        tune_allocator: on the CPU, tune glibc malloc at :meth:`start` so freed tensor
            memory is reused instead of page-faulted back every step (see
            :mod:`nbviz.session.allocator`; also off with ``NBVIZ_TUNE_ALLOCATOR=0``).

    Raises:
        TypeError, ValueError: for a model, loader, loss or optimizer of the wrong kind.

    Example:
        >>> session = nbviz.TrainingSession(model, train_loader, val_loader, epochs=3)
        >>> session.start()          # returns at once
        >>> session.lr = 0.05        # applies at the next batch
        >>> session.wait()
    """

    epochs: int  # always set, unlike a watch() run's
    optimizer: torch.optim.Optimizer  # always set (a default Adam when none is given)

    def __init__(self, model: nn.Module, train_loader: Iterable, val_loader: Iterable | None = None,
                 loss_fn: LossFn | None = None, optimizer: torch.optim.Optimizer | None = None, *,
                 epochs: int = 5, lr: float = 0.01, device: str | torch.device | None = None,
                 input_key: str = "input", target_key: str = "target",
                 history_capacity: int = 2048,
                 save_every: int | datetime.timedelta | None = None,
                 save_to: str | os.PathLike | None = None, keep_last: int | None = 3,
                 tune_allocator: bool = True) -> None:
        _check_loader("train_loader", train_loader, required=True)
        _check_loader("val_loader", val_loader, required=False)
        if loss_fn is not None and not callable(loss_fn):
            raise TypeError(f"loss_fn must be callable as loss_fn(outputs, targets), got {type(loss_fn).__name__}")
        if optimizer is None and isinstance(model, nn.Module):
            from .hyperparams import validate
            trainable = [p for p in model.parameters() if p.requires_grad]
            if not trainable:
                raise ValueError(f"{type(model).__name__} has no trainable parameters, so there is "
                                 "nothing to train; check requires_grad, or pass optimizer=")
            optimizer = torch.optim.SGD(trainable, lr=validate("lr", lr), momentum=0.9)
        super().__init__(model, optimizer, history_capacity)
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.loss_fn: LossFn = loss_fn if loss_fn is not None else nn.CrossEntropyLoss()
        self.epochs = self._check_epochs(epochs)
        self.device = torch.device(device) if device is not None else model_device(model)
        self.batch_format = BatchFormat(input_key, target_key)
        self.steps_per_epoch = len(train_loader) if isinstance(train_loader, Sized) else None
        self.batch_size = getattr(train_loader, "batch_size", None)
        self._thread: threading.Thread | None = None
        self._loop_alive = False
        self._end_state = "idle"
        self._default_loss = loss_fn is None
        self._norm = NormStatsBackup()  # BatchNorm statistics, put back after a failed step
        self._initial = self._capture_state()
        if not isinstance(tune_allocator, bool):
            raise TypeError(f"tune_allocator must be True or False, got {tune_allocator!r}")
        self.tune_allocator = tune_allocator
        self.autosave: AutoSave | None = None
        if save_every is not None:
            if save_to is None:
                raise ValueError("save_every= needs save_to= a folder for the checkpoint files, "
                                 "e.g. save_to='checkpoints/run1'")
            self.autosave = AutoSave(save_every, save_to, keep_last)
            self.add_callback(self.autosave)

    # ---- state ----------------------------------------------------------------------------
    def allocator_note(self) -> str | None:
        """One line on the CPU allocator tuning (done, or why not); None off the CPU."""
        if self.device.type != "cpu":
            return None
        return (self.allocator or allocator.plan(self.tune_allocator)).note

    @staticmethod
    def _check_epochs(epochs: object) -> int:
        if isinstance(epochs, bool) or not isinstance(epochs, int) or not 1 <= epochs <= MAX_EPOCHS:
            raise ValueError(f"epochs must be a whole number from 1 to {MAX_EPOCHS:,}, got {epochs!r}")
        return epochs

    def set_epochs(self, epochs: int) -> None:
        """Change how many epochs the run lasts (takes effect at the next epoch boundary).

        Raises:
            ValueError: not a whole number from 1 to 1,000,000, or fewer epochs than the run
                has already trained (the current one included while it trains).
        """
        epochs = self._check_epochs(epochs)
        done = self.epoch + (1 if self._loop_alive else 0)
        if epochs < done:
            raise ValueError(f"epochs cannot be {epochs}: this run has already reached epoch {done}; "
                             f"use {done} or more, or session.reset() to start over")
        self.epochs = epochs

    @property
    def loop_active(self) -> bool:
        return self._loop_alive

    @property
    def state(self) -> str:
        if self._loop_alive:
            return "paused" if self.control.waiting else "running"
        return self._end_state

    def _in_loop_thread(self) -> bool:
        return threading.current_thread() is self._thread

    @property
    def loop_thread(self) -> threading.Thread | None:
        return self._thread

    def _split_batch(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        return self.batch_format.split(batch)

    def _probe_source(self) -> Iterable:
        if self.val_loader is not None:
            return self.val_loader
        return _OrderKept(self.train_loader)  # a probe must not change the training order

    # ---- lifecycle ------------------------------------------------------------------------
    def start(self, paused: bool = False) -> None:
        """Start (or resume) training in the background; returns at once.

        Raises:
            RuntimeError: when all epochs are done (raise ``session.epochs`` to go on).
        """
        with self._model_lock:
            if self._loop_alive:
                self.control.resume()
                return
            if self.epoch >= self.epochs:
                self._raise_finished()
            self.control.clear_stop()
            if paused:
                self.control.pause()
            elif self.control.steps_left is None:
                self.control.resume()
            self.error = self.error_traceback = None
            self.status_message = ""
            self._loop_alive = True
            if self.device.type == "cpu":
                self.allocator = allocator.tune_for_training(self.tune_allocator)
            self._thread = threading.Thread(target=self._run, name="nbviz-training", daemon=True)
            self._thread.start()

    def step(self, n: int = 1) -> None:
        """Train exactly ``n`` more batches, then pause (starting the thread if needed).

        Raises:
            RuntimeError: when all epochs are done; nothing is remembered for later.
        """
        with self._model_lock:
            if not self._loop_alive and self.epoch >= self.epochs:
                self._raise_finished()
            super().step(n)
            if not self._loop_alive:
                self.start()

    def _raise_finished(self) -> None:
        raise RuntimeError(
            f"training already ran its {self.epochs} epochs; set session.epochs higher "
            "(or call session.reset()) to train more")

    def stop(self, timeout: float | None = None) -> None:
        """Stop at the next batch boundary and join the training thread."""
        thread = self._thread
        self.control.request_stop()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def wait(self, timeout: float | None = None) -> None:
        """Block until training ends.

        Raises:
            TrainingError: if training failed; its ``__cause__`` is the original error.
            TimeoutError: if ``timeout`` seconds pass first.
        """
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise TimeoutError(f"training still running after {timeout} s")
        if self._end_state == "failed" and self.error is not None:
            raise TrainingError(f"training failed at step {self.step_count}: {self.error}") from self.error

    def reset(self) -> None:
        """Stop, restore the weights and optimizer to how they were at creation, clear history."""
        self.stop()
        with self._model_lock:
            self._restore_state(self._initial)
            self.history.clear()
            self.step_count = self.epoch = 0
            self.error = self.error_traceback = None
            self.status_message = "reset to the initial weights"
            self._end_state = "idle"

    # ---- the training thread ---------------------------------------------------------------
    def _run(self) -> None:
        end_state = "finished"
        self._norm.forget()  # the model may have changed since the last run
        self._fire("on_train_start")
        try:
            while self.epoch < self.epochs:
                self._train_epoch()
                self._end_epoch()
            self.status_message = f"finished {self.epochs} epochs at step {self.step_count}"
        except StopTraining:
            end_state = "stopped"
            self.status_message = f"stopped at step {self.step_count}"
        except Exception as exc:
            end_state = "failed"
            self.error = exc
            self.error_traceback = traceback.format_exc()
            self.status_message = f"training failed at step {self.step_count}: {exc}"
            self.history.add_event(self.step_count, "error", str(exc), self.wall_time())
            self._fire("on_exception", exc)
        finally:
            with self._model_lock:
                self._end_state = end_state
                self._loop_alive = False
                self.control.run_pending()
            self._fire("on_train_end")

    def _on_pause(self) -> None:
        if not self.status_message.startswith("loss became"):
            self.status_message = f"paused at step {self.step_count}"

    def _train_epoch(self) -> None:
        model, optimizer, control = self.model, self.optimizer, self.control
        model.train()
        counter = _AccuracyCounter()
        seen = 0
        loss_sum = 0.0
        rate_t0, rate_samples = time.perf_counter(), 0
        batches = iter(self.train_loader)
        history, device = self.history, self.device
        while True:
            control.checkpoint(self._on_pause)
            if self.status_message:
                self.status_message = ""
            try:
                batch = next(batches)
            except StopIteration:
                break
            inputs, targets = self._split_batch(batch)
            inputs, targets = to_device(inputs, device), to_device(targets, device)
            optimizer.zero_grad(set_to_none=True)
            self._norm.save(self.model, self._norm_moments())
            outputs = self._forward(inputs)
            try:
                loss = self._loss(outputs, targets)
            except Exception:
                self._norm.restore()  # the failed step leaves no trace in the model
                raise
            # the one host sync per step: a non-finite loss must stop the step before it applies
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                self._norm.restore()  # a NaN batch must not poison BatchNorm's statistics
                self._on_non_finite_loss(loss_value)
                continue
            loss.backward()
            self._fire("on_after_backward")
            optimizer.step()
            self.step_count += 1
            control.batch_done()
            n = len(inputs)
            seen += n
            loss_sum += loss_value * n
            if _is_logits(outputs, targets):
                counter.add(outputs, targets)
            rate_samples += n
            now = time.perf_counter()
            rate = {}
            if now - rate_t0 >= 0.5:
                rate = {"samples_per_sec": rate_samples / (now - rate_t0)}
                rate_t0, rate_samples = now, 0
            history.log(self.step_count, train_loss=loss_value, lr=optimizer.param_groups[0]["lr"],
                        wall_time=self.wall_time(), **rate)
            self._fire("on_batch_end")
        if seen:
            metrics = {"train_epoch_loss": loss_sum / seen}
            correct = counter.total()
            if correct:
                metrics["train_accuracy"] = correct / seen
            self.history.log(self.step_count, **metrics)

    def _forward(self, inputs: torch.Tensor) -> torch.Tensor:
        buffers = None
        if self.step_count == 0:  # a shape error usually shows on the first batch: keep BN stats safe
            buffers = [b.detach().clone() for b in self.model.buffers()]
        try:
            return self.model(inputs)
        except Exception as exc:
            if buffers is not None:
                with torch.no_grad():
                    for saved, buffer in zip(buffers, self.model.buffers(), strict=True):
                        buffer.copy_(saved)
            failure = locate_forward_failure(self.model, inputs)
            if failure is None:
                raise
            raise RuntimeError(failure.message()) from exc

    def _loss(self, outputs: Any, targets: torch.Tensor) -> torch.Tensor:
        if self._default_loss and not isinstance(outputs, torch.Tensor):
            raise TypeError(_default_loss_message(self.model, outputs))
        return self.loss_fn(outputs, targets)

    def _norm_moments(self) -> tuple[int, int, int]:
        """Counters that move when the model may have changed outside a registration hook's
        sight (see :mod:`nbviz.session.norm_stats`): a new epoch, commands run, a pause."""
        control = self.control
        return self.epoch, control.commands_run, control.pauses

    def _norm_buffers(self) -> list[torch.Tensor]:
        """The normalisation layers' buffers, walked again only when the model may have changed."""
        return self._norm.buffers(self.model, self._norm_moments())

    def _on_non_finite_loss(self, value: float) -> None:
        self.control.pause()
        message = (f"loss became {value} at step {self.step_count + 1} (epoch {self.epoch + 1}); "
                   "training paused before applying that step, so the weights are those of step "
                   f"{self.step_count}. Lower the learning rate (now {self.lr:.3g}) and resume.")
        self.status_message = message
        self.history.add_event(self.step_count, "non_finite_loss", message, self.wall_time(),
                               loss=value)

    def _end_epoch(self) -> None:
        metrics = self._validate() if self.val_loader is not None else {}
        self.epoch += 1
        if metrics:
            self.history.log(self.step_count, **metrics)
        self.history.add_event(self.step_count, "epoch", f"epoch {self.epoch} done", self.wall_time(),
                               epoch=self.epoch, **metrics)
        self._fire("on_epoch_end")

    def _validate(self) -> dict[str, float]:
        """Validation loss and accuracy, without advancing the RNG training uses."""
        model = self.model
        total, loss_sum, correct = 0, 0.0, 0
        was_training = model.training
        model.eval()
        try:
            with torch.random.fork_rng(devices=[]), torch.no_grad():
                for batch in self.val_loader or ():
                    inputs, targets = self._split_batch(batch)
                    inputs, targets = to_device(inputs, self.device), to_device(targets, self.device)
                    outputs = model(inputs)
                    loss_sum += float(self._loss(outputs, targets)) * len(inputs)
                    if _is_logits(outputs, targets):
                        correct += int((outputs.argmax(1) == targets).sum())
                    total += len(inputs)
        finally:
            model.train(was_training)
        if not total:
            return {}
        metrics = {"val_loss": loss_sum / total}
        metrics["val_accuracy"] = correct / total
        return metrics

    # ---- checkpoints -----------------------------------------------------------------------
    def _capture_state(self) -> dict[str, Any]:
        model_state = self.model.state_dict()
        weights = OrderedDict((k, v.detach().clone()) for k, v in model_state.items())
        weights._metadata = copy.deepcopy(getattr(model_state, "_metadata", {}))  # type: ignore[attr-defined]
        return {
            "model": weights,
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
            "step": self.step_count,
            "epoch": self.epoch,
        }

    def _restore_state(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step_count = state["step"]
        self.epoch = state["epoch"]

    def _checkpoint_state(self) -> dict[str, Any]:
        return {**self._capture_state(), "epochs": self.epochs, "history": self.history.state_dict(),
                "model_class": type(self.model).__name__,
                "optimizer_class": type(self.optimizer).__name__}

    def save(self, path: str | os.PathLike) -> Path:
        """Write model, optimizer, history and counters to ``path`` atomically; returns the path.

        Safe while training runs: the state is copied at a batch boundary. The file holds
        only tensors and plain values, so loading it runs no code.

        Raises:
            CheckpointWriteError: (an OSError) naming the path, the cause (no space left,
                permission denied, read-only file system, a directory, ...) and what to do;
                the previous file at ``path`` and the session are left as they were.
        """
        state = self.run_at_batch_boundary(self._checkpoint_state).result()
        written = checkpoint.write_atomic(state, path)
        self.history.add_event(self.step_count, "checkpoint", f"saved to {written}", self.wall_time())
        return written

    def restore(self, path: str | os.PathLike, *, trusted: bool = False) -> None:
        """Load a checkpoint written by :meth:`save` into this session (training stopped).

        Nothing changes unless the whole checkpoint fits: model, optimizer and history.

        Args:
            trusted: also read files that need unpickling (nbviz format 1, files holding
                Python objects). **Unpickling runs any code in the file: only for files
                you wrote yourself.**

        Raises:
            RuntimeError: while training runs (stop it first).
            FileNotFoundError: no file at ``path``.
            CheckpointReadError: (a ValueError) the file runs code when unpickled, is cut
                short, of another format version, not a checkpoint, or of another
                architecture or optimizer; the message says which and what to do.
        """
        if self._loop_alive:
            raise RuntimeError("stop training before restoring a checkpoint: session.stop()")
        state = checkpoint.read(path, map_location=self.device, trusted=trusted)
        checkpoint.check_fits(path, state, self.model, self.optimizer)
        with self._model_lock:
            before = self._capture_state()
            try:
                self._restore_state(state)
            except (RuntimeError, KeyError, ValueError, TypeError) as exc:
                self._restore_state(before)  # a checkpoint that does not fit changes nothing
                raise checkpoint.CheckpointMismatchError(
                    f"{path} does not fit this model and optimizer: {exc}", path) from exc
            epochs = state.get("epochs")
            if isinstance(epochs, int) and not isinstance(epochs, bool):
                self.epochs = max(self.epochs or 1, epochs)
            self.history.load_state_dict(state["history"])
            self.error = self.error_traceback = None
            self.status_message = f"restored {path} at step {self.step_count}"
            self.history.add_event(self.step_count, "checkpoint", f"restored from {path}",
                                   self.wall_time())
            self._end_state = "idle"

    def load_weights(self, path: str | os.PathLike, *, trusted: bool = False) -> None:
        """Load only model weights (training stopped): from an nbviz checkpoint, a plain
        ``state_dict`` file, or another tool's checkpoint holding one (``model_state_dict``).

        The optimizer keeps its hyperparameters; its per-parameter state (momentum, Adam
        moments) is cleared, since it belonged to other weights. Step count and history go on.

        Args:
            trusted: as in :meth:`restore` (**unpickling runs code from the file**).

        Raises:
            RuntimeError: while training runs. CheckpointReadError: as in :meth:`restore`.
        """
        if self._loop_alive:
            raise RuntimeError("stop training before loading weights: session.stop()")
        weights = checkpoint.read_weights(path, map_location=self.device, trusted=trusted)
        mismatch = checkpoint.weights_mismatch(weights, self.model)
        if mismatch:
            raise checkpoint.CheckpointMismatchError(
                f"{path} holds weights of another architecture than this "
                f"{type(self.model).__name__}: {mismatch}. Build the model those weights came "
                "from (same class and arguments), then load again.", path)
        with self._model_lock:
            self.model.load_state_dict(weights)
            if self.optimizer is not None:
                self.optimizer.state.clear()
            self.history.add_event(self.step_count, "checkpoint", f"weights loaded from {path}",
                                   self.wall_time())
            self.status_message = f"weights loaded from {path}"

    @classmethod
    def load(cls, path: str | os.PathLike, model: nn.Module, train_loader: Iterable,
             val_loader: Iterable | None = None, *, trusted: bool = False,
             **kwargs: Any) -> TrainingSession:
        """A new session continuing the run saved at ``path`` (same model architecture).

        ``trusted`` as in :meth:`restore`; other keyword arguments go to the constructor.
        """
        session = cls(model, train_loader, val_loader, **kwargs)
        session.restore(path, trusted=trusted)
        return session
