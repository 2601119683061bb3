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

from .base import SessionBase
from .batches import BatchFormat
from .control import StopTraining

B = TypeVar("B")

# A loop that has not reached a checkpoint for this long is taken to have ended, and
# commands from the dashboard apply at once instead of waiting for the next batch.
IDLE_AFTER_S = 2.0


class Watch(SessionBase):
    """Your own loop, seen and steered from a Dashboard.

    Call :meth:`log` after each step and :meth:`checkpoint` (or iterate through
    :meth:`batches`) at each batch boundary: that is where Pause, Step, Stop and new
    hyperparameters from the dashboard take effect.

    Example:
        >>> viz = nbviz.watch(model, optimizer, probe_data=val_loader)
        >>> viz.dashboard()
        >>> for x, y in viz.batches(train_loader):     # honours Pause/Step/Stop
        ...     loss = loss_fn(model(x), y); optimizer.zero_grad(); loss.backward()
        ...     optimizer.step(); viz.log(loss=loss.item())
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer | None = None, *,
                 probe_data: Iterable | None = None, total_steps: int | None = None,
                 input_key: str = "input", target_key: str = "target",
                 history_capacity: int = 2048) -> None:
        super().__init__(model, optimizer, history_capacity)
        if total_steps is not None and (not isinstance(total_steps, int) or total_steps < 1):
            raise ValueError(f"total_steps must be a whole number >= 1, got {total_steps!r}")
        self.total_steps = total_steps
        self.probe_data = probe_data
        self.batch_format = BatchFormat(input_key, target_key)
        self._last_checkpoint = -math.inf
        self._loop_thread: threading.Thread | None = None
        self._stopped = False
        self._runner: threading.Thread | None = None
        self._rate = (time.perf_counter(), 0)

    @property
    def loop_active(self) -> bool:
        return self.control.waiting or time.monotonic() - self._last_checkpoint < IDLE_AFTER_S

    @property
    def state(self) -> str:
        if self.error is not None:
            return "failed"
        if self._stopped:
            return "stopped"
        if self.control.waiting:
            return "paused"
        return "running" if self.loop_active else "idle"

    def _in_loop_thread(self) -> bool:
        return threading.current_thread() is self._loop_thread

    def _split_batch(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        return self.batch_format.split(batch)

    def _probe_source(self) -> Iterable | None:
        if isinstance(self.probe_data, torch.Tensor):
            return [(self.probe_data, torch.zeros(len(self.probe_data), dtype=torch.long))]
        return self.probe_data

    # ---- inside the user's loop -------------------------------------------------------------
    def checkpoint(self) -> bool:
        """Apply dashboard commands; block while paused. False once Stop was clicked.

        After a Stop every checkpoint answers False (so outer epoch loops end too) until
        :meth:`start` or :meth:`run_in_thread`.
        """
        if self._stopped:
            return False
        self._loop_thread = threading.current_thread()
        self._last_checkpoint = time.monotonic()
        try:
            self.control.checkpoint(lambda: setattr(self, "status_message",
                                                    f"paused at step {self.step_count}"))
        except StopTraining:
            self._stopped = True
            self.control.clear_stop()
            self.status_message = f"stopped at step {self.step_count}"
            return False
        finally:
            self._last_checkpoint = time.monotonic()
        self.status_message = ""
        return True

    def batches(self, loader: Iterable[B]) -> Iterator[B]:
        """Yield ``loader``'s batches, honouring Pause/Step/Stop between them."""
        if self._stopped:
            return
        for batch in loader:
            if not self.checkpoint():
                return
            self.count_samples(self._batch_size(batch))
            yield batch
        self.epoch += 1

    def log(self, step: int | None = None, *, loss: float | None = None, **metrics: float) -> None:
        """Record ``loss`` and other metrics at ``step`` (default: one more than the last).

        Raises:
            ValueError: for a non-numeric metric or a step that goes backwards.
        """
        if step is None:
            step = self.step_count + 1
        if isinstance(step, bool) or not isinstance(step, int) or step < self.step_count:
            raise ValueError(f"step must be a whole number >= the last step ({self.step_count}), got {step!r}")
        values: dict[str, float] = {}
        for name, value in ({"train_loss": loss} | metrics).items():
            if value is None:
                continue
            if isinstance(value, torch.Tensor):
                value = value.item()
            if not isinstance(value, (int, float)):
                raise ValueError(f"metric {name!r} must be a number, got {type(value).__name__}")
            values[name] = float(value)
        if step > self.step_count:
            self.control.batch_done()
        self.step_count = step
        if self.optimizer is not None:
            values.setdefault("lr", self.optimizer.param_groups[0]["lr"])
        values["wall_time"] = self.wall_time()
        t0, n = self._rate
        now = time.perf_counter()
        if now - t0 >= 0.5 and n:
            values["samples_per_sec"] = n / (now - t0)
            self._rate = (now, 0)
        self.history.log(step, **values)
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

        def run() -> None:
            try:
                loop(*args, **kwargs)
            except Exception as exc:
                self.error = exc
                self.error_traceback = traceback.format_exc()
                self.status_message = f"your loop failed at step {self.step_count}: {exc}"
                self.history.add_event(self.step_count, "error", str(exc), self.wall_time())

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
