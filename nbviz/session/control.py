"""The batch-boundary checkpoint shared by the training thread and the front end.

The training thread calls :meth:`TrainingControl.checkpoint` before every batch. Every other
thread (widget observers, the notebook's main thread) only calls the small methods that set
flags or enqueue commands; the checkpoint applies them inside the training thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any


class StopTraining(Exception):
    """Raised inside the training loop by the checkpoint when Stop was requested."""


Command = Callable[[], Any]


class TrainingControl:
    """Pause, resume, single-step, stop and a command queue, applied at batch boundaries.

    Pausing blocks on a condition variable (no busy wait). Commands are callables run in the
    thread that calls :meth:`checkpoint`, in the order they were submitted.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._paused = False
        self._stop = False
        self._steps_left: int | None = None
        self._commands: queue.SimpleQueue[tuple[Command, Future]] = queue.SimpleQueue()
        self._in_checkpoint_thread: int | None = None
        self.waiting = False  # True while the loop is blocked in a pause
        self.commands_run = 0  # bumps whenever queued commands ran (they may change the model)
        self.pauses = 0  # bumps whenever the loop resumes from a pause (the model may have changed)

    # ---- requests, safe from any thread -------------------------------------------------
    def pause(self) -> None:
        with self._cond:
            self._paused = True
            self._steps_left = None
            self._cond.notify_all()

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._steps_left = None
            self._cond.notify_all()

    def step(self, n: int) -> None:
        """Run exactly ``n`` more batches, then pause."""
        with self._cond:
            self._paused = False
            self._steps_left = n
            self._cond.notify_all()

    def request_stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def clear_stop(self) -> None:
        with self._cond:
            self._stop = False

    def submit(self, command: Command) -> Future:
        """Queue ``command`` for the next batch boundary; the future holds its result."""
        future: Future = Future()
        self._commands.put((command, future))
        with self._cond:
            self._cond.notify_all()
        return future

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def stop_requested(self) -> bool:
        return self._stop

    @property
    def steps_left(self) -> int | None:
        return self._steps_left

    # ---- the training thread's side -----------------------------------------------------
    def run_pending(self) -> None:
        """Apply every queued command now, in the calling thread."""
        if self._commands.empty():  # the common case: no exception raised and caught per step
            return
        self.commands_run += 1
        while True:
            try:
                command, future = self._commands.get_nowait()
            except queue.Empty:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(command())
            except BaseException as exc:  # the caller of submit() sees it on the future
                future.set_exception(exc)

    def batch_done(self) -> None:
        """Count one trained batch towards a pending ``step(n)``."""
        if not self._steps_left:  # no step(n) pending (the common case): no lock taken
            return
        with self._cond:
            if self._steps_left:
                self._steps_left -= 1

    def checkpoint(self, on_pause: Callable[[], None] | None = None,
                   idle: Callable[[], None] | None = None) -> None:
        """Call before every batch: apply commands, wait while paused, raise on Stop.

        Args:
            on_pause: called once each time the loop starts waiting in a pause.
            idle: while paused, called (outside the lock) instead of blocking, until the
                pause ends; it should wait a little itself (a loop on a notebook's main
                thread handles widget messages there, which is how Resume reaches it).

        Raises:
            StopTraining: when Stop was requested.
        """
        if not (self._paused or self._stop or self._steps_left == 0) and self._commands.empty():
            # the common case, read without the lock: a request arriving just after this is
            # seen at the next batch boundary, as if it had come a moment later
            self.waiting = False
            return
        announced = waited = False
        while True:
            self.run_pending()
            with self._cond:
                if self._stop:
                    raise StopTraining
                if self._steps_left == 0:
                    self._paused = True
                    self._steps_left = None
                if not self._paused:
                    self.waiting = False
                    if waited:
                        self.pauses += 1
                    return
                waited = self.waiting = True
                if not announced and on_pause is not None:
                    announced = True
                    self._cond.release()
                    try:
                        on_pause()
                    finally:
                        self._cond.acquire()
                    continue
                if idle is not None:
                    self._cond.release()
                    try:
                        idle()
                    finally:
                        self._cond.acquire()
                elif self._commands.empty():
                    self._cond.wait()
