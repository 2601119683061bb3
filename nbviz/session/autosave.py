"""Periodic checkpoints for long runs: every n steps or every so often, keeping the last k.

Saves happen in the training thread at batch boundaries (after a batch's optimizer step
and logging), through the same atomic write as ``session.save``. A failed periodic save
never stops training: it is recorded as a ``checkpoint_error`` event in the history and in
:attr:`AutoSave.last_error`, and the next save is tried when the next one is due. Old files
are removed only after a newer one was written, and only files this AutoSave wrote.
"""

from __future__ import annotations

import datetime
import logging
import os
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("nbviz")


class AutoSave:
    """The periodic-save policy of one session; fired as a batch-end callback.

    Args:
        every: a whole number of training steps, or a ``datetime.timedelta``.
        folder: where the files ``step-00000500.pt`` go (created if needed).
        keep_last: how many of the newest files to keep (None keeps all).
    """

    def __init__(self, every: int | datetime.timedelta, folder: str | os.PathLike,
                 keep_last: int | None = 3) -> None:
        if isinstance(every, datetime.timedelta):
            if every.total_seconds() <= 0:
                raise ValueError(f"save_every must be a positive interval, got {every}")
            self.every_steps: int | None = None
            self.every_seconds: float | None = every.total_seconds()
        elif isinstance(every, int) and not isinstance(every, bool) and every >= 1:
            self.every_steps, self.every_seconds = every, None
        else:
            raise ValueError(
                f"save_every must be a whole number of steps >= 1 or a datetime.timedelta "
                f"(e.g. timedelta(minutes=10)), got {every!r}")
        if keep_last is not None and (isinstance(keep_last, bool) or not isinstance(keep_last, int)
                                      or keep_last < 1):
            raise ValueError(f"keep_last must be a whole number >= 1 or None (keep all), got {keep_last!r}")
        if folder is None or isinstance(folder, (int, float)):
            raise ValueError("save_every= needs save_to= a folder for the checkpoint files, "
                             "e.g. save_to='checkpoints/run1'")
        self.folder = Path(os.path.expanduser(os.fspath(folder)))
        if self.folder.exists() and not self.folder.is_dir():
            raise ValueError(f"save_to={str(self.folder)!r} is a file; give a folder for the "
                             "periodic checkpoints")
        self.keep_last = keep_last
        self.written: list[Path] = []
        self.last_error: str | None = None
        self._last_step: int | None = None
        self._last_time: float | None = None

    @property
    def latest(self) -> Path | None:
        """The newest checkpoint written by this AutoSave (None before the first)."""
        return self.written[-1] if self.written else None

    def path_for(self, step: int) -> Path:
        return self.folder / f"step-{step:08d}.pt"

    def due(self, step: int, now: float) -> bool:
        if step == self._last_step:
            return False
        if self.every_steps is not None:
            return step % self.every_steps == 0
        if self._last_time is None:
            self._last_time = now
            return False
        return now - self._last_time >= (self.every_seconds or 0.0)

    def on_batch_end(self, run: Any) -> None:
        """Save if due; never raises (a failure is recorded and training goes on)."""
        step = run.step_count
        if not self.due(step, time.monotonic()):
            return
        self._last_step, self._last_time = step, time.monotonic()
        path = self.path_for(step)
        try:
            run.save(path)
        except Exception as exc:
            self._record(run, f"periodic save at step {step} failed, training goes on: {exc}")
            return
        self.last_error = None
        if path in self.written:
            self.written.remove(path)
        self.written.append(path)
        self._rotate(run)

    def _rotate(self, run: Any) -> None:
        while self.keep_last is not None and len(self.written) > self.keep_last:
            old = self.written.pop(0)
            try:
                old.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                self._record(run, f"could not remove the old checkpoint {old}: {exc}")

    def _record(self, run: Any, message: str) -> None:
        self.last_error = message
        log.warning("nbviz: %s", message)
        try:
            run.history.add_event(run.step_count, "checkpoint_error", message, run.wall_time())
        except Exception:  # the history must not turn a save failure into a training failure
            log.exception("nbviz could not record a checkpoint error")
