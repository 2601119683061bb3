"""nbviz.watch(): the dashboard for a training loop you keep writing yourself."""

from __future__ import annotations

import math
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import torch
from torch import nn

from . import kernel_comms
from .base import SessionBase
from .batches import BatchFormat
from .control import StopTraining

B = TypeVar("B")

# Where nothing tells when a loop ends (a plain script), a loop that has not reached a
# checkpoint for this long is taken to have ended, and commands apply at once.
IDLE_AFTER_S = 2.0
PAUSE_POLL_S = 0.1  # a paused loop on a notebook's main thread reads widget messages this often


class Watch(SessionBase):
    """Your own loop, seen and steered from a Dashboard, even when it runs in a plain cell.

    Iterate through :meth:`batches` (or call :meth:`checkpoint`) at each batch boundary and
    :meth:`log` after each step: Pause, Step, Stop and new hyperparameters from the dashboard
    take effect there. :meth:`epoch_range` lets Stop end your epoch loop too. See :attr:`steering`
    for how clicks reach a loop that keeps the notebook's main shell busy.

    Example:
        >>> viz = nbviz.watch(model, optimizer, probe_data=val_loader)
        >>> viz.dashboard()
        >>> for epoch in viz.epoch_range(5):                # Stop ends this loop too
        ...     for x, y in viz.batches(train_loader): # honours Pause/Step/Stop
        ...         loss = loss_fn(model(x), y); optimizer.zero_grad(); loss.backward()
        ...         optimizer.step(); viz.log(loss=loss.item())
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer | None = None, *,
                 probe_data: Iterable | None = None, total_steps: int | None = None,
                 input_key: str = "input", target_key: str = "target",
                 history_capacity: int = 2048) -> None:
        super().__init__(model, optimizer, history_capacity)
        if total_steps is not None and (isinstance(total_steps, bool)
                                        or not isinstance(total_steps, int) or total_steps < 1):
            raise ValueError(f"total_steps must be a whole number >= 1, got {total_steps!r}")
        self.total_steps = total_steps
        self.probe_data = probe_data
        self.batch_format = BatchFormat(input_key, target_key)
        self._last_checkpoint = -math.inf
        self._loop_thread: threading.Thread | None = None
        self._loop_open = False  # between the first checkpoint of a loop and its end
        self._end_known = False  # something will tell when the loop ends (cell, thread, epochs())
        self._phase = "idle"
        self._stopped = False
        self._in_batches = False
        self._in_epochs = False
        self._opt_stepped = False
        self._runner: threading.Thread | None = None
        self._rate = (time.perf_counter(), 0)
        self._router = kernel_comms.CommRouter()
        self._msg_pump: kernel_comms.MainShellPump | None = None
        self._cell_hook: Callable[[Any], None] | None = None
        self._opt_hooks: list[Any] = []
        self.hook_optimizer = True  # False where a framework callback fires the batch hooks

    def add_callback(self, callback: Any) -> None:
        super().add_callback(callback)
        self._sync_optimizer_hooks()

    def remove_callback(self, callback: Any) -> None:
        super().remove_callback(callback)
        self._sync_optimizer_hooks()

    def _sync_optimizer_hooks(self) -> None:
        """Hook the optimizer step (for on_after_backward/on_batch_end) only while callbacks
        listen, so a watch with no views adds nothing to a step."""
        optimizer = self.optimizer
        if optimizer is None or not self.hook_optimizer \
                or bool(self._callbacks) == bool(self._opt_hooks):
            return
        if self._callbacks:
            self._opt_hooks = [
                optimizer.register_step_pre_hook(lambda *_: self._fire("on_after_backward")),
                optimizer.register_step_post_hook(lambda *_: self._after_optimizer_step()),
            ]
        else:
            for handle in self._opt_hooks:
                handle.remove()
            self._opt_hooks = []

    # ---- the session contract ---------------------------------------------------------------
    @property
    def loop_active(self) -> bool:
        if not self._loop_open:
            return False
        if self._end_known or self.control.waiting:
            return True
        return time.monotonic() - self._last_checkpoint < IDLE_AFTER_S

    @property
    def state(self) -> str:
        if self.error is not None:
            return "failed"
        if self._stopped:
            return "stopped"
        if self.loop_active:
            return "paused" if self.control.waiting else "running"
        if self._loop_open:  # no end signal (a script) and no checkpoint for a while
            return "finished" if self.step_count else "idle"
        return self._phase

    @property
    def fires_backward_hooks(self) -> bool:
        return self.optimizer is not None or not self.hook_optimizer

    @property
    def steering(self) -> str:
        """Which path brings the dashboard's clicks to this loop (shown in the control bar)."""
        runner = self._runner
        if runner is not None and runner.is_alive():
            return "training thread"
        thread = self._loop_thread
        if self._loop_open and thread is not None and thread is not threading.main_thread():
            return "training thread"
        kernel = kernel_comms.current_kernel()
        if kernel is None:
            return "not steerable: no Jupyter kernel (call viz.pause()/viz.stop() from code)"
        pump = self._msg_pump or kernel_comms.MainShellPump(kernel)
        if not pump.available:
            return f"not steerable: {pump.reason}"
        return kernel_comms.front_end_path(kernel)

    def set_epochs(self, epochs: int) -> None:
        """Change how many epochs a running :meth:`epoch_range` loop lasts (from the dashboard)."""
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be a whole number >= 1, got {epochs!r}")
        if not self._in_epochs:
            raise ValueError("the number of epochs is set by your loop: use "
                             "`for epoch in viz.epoch_range(n):` to change it from the dashboard")
        self.epochs = max(epochs, self.epoch + 1)

    def _in_loop_thread(self) -> bool:
        return threading.current_thread() is self._loop_thread

    @property
    def loop_thread(self) -> threading.Thread | None:
        """The thread :meth:`run_in_thread` started (a loop run in a cell has none)."""
        return self._runner

    def _split_batch(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        return self.batch_format.split(batch)

    def _probe_source(self) -> Iterable | None:
        if isinstance(self.probe_data, torch.Tensor):
            return [(self.probe_data, torch.zeros(len(self.probe_data), dtype=torch.long))]
        return self.probe_data

    # ---- a loop's beginning and end ----------------------------------------------------------
    def _begin_loop(self) -> None:
        self._loop_open = True
        self._phase = "running"
        self._stopped = False
        self.error = self.error_traceback = None
        self.control.clear_stop()
        self._loop_thread = threading.current_thread()
        runner = self._runner
        self._end_known = self._in_epochs or (runner is not None and runner.is_alive())
        if self._loop_thread is threading.main_thread():
            kernel = kernel_comms.current_kernel()
            if kernel is not None:
                pump = kernel_comms.MainShellPump(kernel)
                self._msg_pump = pump if pump.available else None
                self._end_known = self._hook_cell_end() or self._end_known
        self._fire("on_train_start")

    def _hook_cell_end(self) -> bool:
        """Be told when the running cell ends (IPython's post_run_cell); False outside IPython."""
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
        if shell is None or self._cell_hook is not None:
            return self._cell_hook is not None

        def on_cell_end(result: Any) -> None:
            if threading.current_thread() is not threading.main_thread():
                return  # a cell on a subshell ended, not the one running the loop
            shell.events.unregister("post_run_cell", on_cell_end)
            self._cell_hook = None
            error = getattr(result, "error_in_exec", None)
            if isinstance(error, KeyboardInterrupt):
                self._stopped = True
                self.status_message = f"interrupted at step {self.step_count}"
                error = None
            self._end_loop(error)

        self._cell_hook = on_cell_end
        shell.events.register("post_run_cell", on_cell_end)
        return True

    def _end_loop(self, error: BaseException | None = None) -> None:
        if not self._loop_open:
            return
        self._settle_batch()
        self._loop_open = False
        self._msg_pump = None
        if self.control.waiting:  # left while paused (an interrupt): the next loop starts running
            self.control.waiting = False
            self.control.resume()
        if error is not None:
            self.error = error
            self.error_traceback = "".join(traceback.format_exception(error))
            self.status_message = f"your loop failed at step {self.step_count}: {error}"
            self.history.add_event(self.step_count, "error", str(error), self.wall_time())
            self._phase = "failed"
            self._fire("on_exception", error)
        elif self._stopped:
            self._phase = "stopped"
        else:
            self._phase = "finished"
            self.status_message = f"finished at step {self.step_count}"
        self.control.run_pending()  # what the dashboard asked for after the last batch
        self._fire("on_train_end")

    def _settle_batch(self) -> None:
        """Count a batch whose optimizer step was not followed by log()."""
        if self._opt_stepped:
            self._batch_end(self.step_count + 1)

    def _after_optimizer_step(self) -> None:
        """Views that compare weights before and after a step need on_batch_end right here,
        before your log() call; the step is counted by log() or the next checkpoint."""
        self._opt_stepped = True
        self._fire("on_batch_end")

    def _batch_end(self, step: int) -> None:
        fired = self._opt_stepped  # by the optimizer hook, for this batch
        self._opt_stepped = False
        self.step_count = step
        self.control.batch_done()
        if not fired:
            self._fire("on_batch_end")

    def _end_epoch(self) -> None:
        self._settle_batch()
        self.epoch += 1
        self.history.add_event(self.step_count, "epoch", f"epoch {self.epoch} done",
                               self.wall_time(), epoch=self.epoch)
        self._fire("on_epoch_end")

    # ---- inside the user's loop -------------------------------------------------------------
    def checkpoint(self) -> bool:
        """Apply dashboard commands; block while paused. False once Stop was clicked.

        After a Stop every checkpoint answers False (so outer loops end too) until the loop
        ends (its cell, :meth:`epoch_range` or :meth:`run_in_thread` returns) or :meth:`start`.
        """
        if not self._loop_open:
            self._begin_loop()
        if self._stopped:
            return False
        self._loop_thread = threading.current_thread()
        self._last_checkpoint = time.monotonic()
        self._settle_batch()
        idle = None
        pump = self._msg_pump
        if pump is not None and self._loop_thread is threading.main_thread():
            self._router.refresh()
            pump.poll()

            def idle() -> None:
                pump.wait(PAUSE_POLL_S)
                pump.poll()
        try:
            self.control.checkpoint(lambda: setattr(self, "status_message",
                                                    f"paused at step {self.step_count}"), idle)
        except StopTraining:
            self._stopped = True
            self.control.clear_stop()
            self.status_message = f"stopped at step {self.step_count}"
            self.history.add_event(self.step_count, "stop", self.status_message, self.wall_time())
            return False
        finally:
            self._last_checkpoint = time.monotonic()
        if self.status_message.startswith("paused"):
            self.status_message = ""
        return True

    def batches(self, loader: Iterable[B]) -> Iterator[B]:
        """Yield ``loader``'s batches, honouring Pause/Step/Stop between them.

        Raises:
            RuntimeError: when called inside another ``viz.batches()`` loop.
        """
        if isinstance(loader, (torch.Tensor, str, bytes)) or not isinstance(loader, Iterable):
            raise TypeError(f"viz.batches() needs an iterable of batches such as a DataLoader, "
                            f"got {type(loader).__name__}")
        return self._batches(loader)

    def _batches(self, loader: Iterable[B]) -> Iterator[B]:
        if self._in_batches:
            raise RuntimeError(
                "viz.batches() is already running: a batches() loop nested in another would "
                "count every inner batch as a step and pause in the middle of the outer one. "
                "Iterate the inner loader directly (for x in inner_loader:), or use "
                "`for epoch in viz.epoch_range(n):` around viz.batches(train_loader).")
        self._in_batches = True
        try:
            if hasattr(loader, "__len__"):
                self.steps_per_epoch = len(loader)  # type: ignore[arg-type]
            self.batch_size = getattr(loader, "batch_size", None) or self.batch_size
            if self._stopped and self._loop_open:
                return
            for batch in loader:
                if not self.checkpoint():
                    return
                self.count_samples(self._batch_size(batch))
                yield batch
            self._settle_batch()
            if not self._in_epochs:
                self._end_epoch()
        finally:
            self._in_batches = False

    def epoch_range(self, n: int) -> Iterator[int]:
        """Yield epoch numbers for ``n`` more epochs; Stop (or the dashboard's epochs field)
        ends the loop early. Validation run in the loop body belongs to that epoch.

        Raises:
            ValueError: ``n`` is not a whole number >= 1.
            RuntimeError: when nested in another ``viz.epoch_range()`` loop.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"viz.epoch_range(n) needs a whole number of epochs >= 1, got {n!r}")
        if self._in_epochs:
            raise RuntimeError("viz.epoch_range() is already running; nest viz.batches() in it instead")
        return self._epoch_range(n)

    def _epoch_range(self, n: int) -> Iterator[int]:
        self._in_epochs = True
        self.epochs = self.epoch + n
        try:
            if not self._loop_open:
                self._begin_loop()
            self._end_known = True
            while self.epoch < (self.epochs or 0) and not self._stopped:
                yield self.epoch
                if self._stopped:
                    break
                self._end_epoch()
        finally:
            self._in_epochs = False
            self._end_loop()

    def log(self, step: int | None = None, *, loss: float | None = None, **metrics: float) -> None:
        """Record ``loss`` and other metrics at ``step`` (default: one more than the last).

        Raises:
            ValueError: for a non-numeric metric or a step that goes backwards.
        """
        if step is None:
            step = self.step_count + 1
        if isinstance(step, bool) or not isinstance(step, int):
            raise ValueError(f"viz.log(step=...) needs a whole number, got {step!r}")
        if step < self.step_count:
            raise ValueError(
                f"viz.log(step={step}) goes backwards: step must be >= {self.step_count}, the "
                "last step logged. Leave step out to count batches, or pass a step that never decreases "
                "(e.g. epoch * len(train_loader) + i).")
        values: dict[str, float] = {}
        for name, value in ({"train_loss": loss} | metrics).items():
            if value is None:
                continue
            if isinstance(value, torch.Tensor):
                value = value.item()
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"metric {name!r} must be a number, got {type(value).__name__}")
            values[name] = float(value)
        if self.optimizer is not None:
            values.setdefault("lr", self.optimizer.param_groups[0]["lr"])
        values["wall_time"] = self.wall_time()
        t0, n = self._rate
        now = time.perf_counter()
        if now - t0 >= 0.5 and n:
            values["samples_per_sec"] = n / (now - t0)
            self._rate = (now, 0)
        advanced = step > self.step_count
        if not advanced:
            self.step_count = step
        self.history.log(step, **values)
        if advanced:
            self._batch_end(step)
        self._last_checkpoint = time.monotonic()

    def _batch_size(self, batch: Any) -> int:
        try:
            return len(self._split_batch(batch)[0])
        except (TypeError, ValueError):  # not (inputs, targets): the loop may still train on it
            return 0

    def count_samples(self, n: int) -> None:
        """Tell the watch how many samples a step used (for samples/s); batches() does this."""
        t0, count = self._rate
        self._rate = (t0, count + n)

    def stop(self) -> None:
        """Ask the loop to stop at its next checkpoint."""
        self.request_stop()

    def start(self) -> None:
        """Resume a paused loop, or let checkpoints pass again after a Stop."""
        self._stopped = False
        self.control.resume()

    def run_in_thread(self, loop: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run your training function in a background thread; the cell returns at once.

        A blocking loop in a cell keeps the kernel from reading widget messages until it
        ends, so clicks would wait; in a thread they reach :meth:`checkpoint` at once.
        An exception in ``loop`` is kept (shown in the dashboard) and re-raised by
        :meth:`wait`.

        Raises:
            RuntimeError: if a loop started this way is still running.
        """
        if not callable(loop):
            raise TypeError(f"loop must be a function, got {type(loop).__name__}")
        if self._runner is not None and self._runner.is_alive():
            raise RuntimeError("a loop is already running in this watch; wait() for it first")
        self.error = self.error_traceback = None
        self._stopped = False
        if self._loop_open and self._loop_thread is threading.current_thread():
            self._end_loop()  # this cell's own loop, if any, is over

        def run() -> None:
            error: Exception | None = None
            try:
                loop(*args, **kwargs)
            except Exception as exc:
                error = exc
            if not self._loop_open and error is not None:  # failed before its first batch
                self._begin_loop()
            self._end_loop(error)

        self._runner = threading.Thread(target=run, name="nbviz-watch-loop", daemon=True)
        self._runner.start()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the loop started by :meth:`run_in_thread`; re-raise its error.

        Raises:
            TrainingError: if the loop failed; ``__cause__`` is the original error.
            TimeoutError: if ``timeout`` seconds pass first.
        """
        if self._runner is not None:
            self._runner.join(timeout)
            if self._runner.is_alive():
                raise TimeoutError(f"the loop is still running after {timeout} s")
        if self.error is not None:
            from .session import TrainingError
            raise TrainingError(f"your loop failed at step {self.step_count}: {self.error}") \
                from self.error

    def dashboard(self) -> Any:
        """A Dashboard for this loop."""
        from ..views.dashboard import Dashboard
        return Dashboard(self)


def watch(model: nn.Module, optimizer: torch.optim.Optimizer | None = None, **kwargs: Any) -> Watch:
    """Watch a training loop you write yourself; see :class:`Watch`."""
    return Watch(model, optimizer, **kwargs)
