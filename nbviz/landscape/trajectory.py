"""The path training takes, recorded from the training thread at bounded memory and time.

:class:`TrajectoryRecorder` is a session callback (``on_batch_end``). On a sampled step it
copies the trainable parameters into one flat float32 array. Snapshots live in a thinning
ring (as nbviz.probes.param_stats does): when the ring is full every other one is dropped and
later samples are kept half as often, so the ring covers the whole run evenly; the first
snapshot (the weights training started from) always stays, and the newest is always kept.
Memory is capped in bytes (``max_bytes``); time by a fraction of wall time (``budget``).
It only reads tensors, so training is bit-identical with and without it.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from ..probes.param_stats import _fires_callbacks
from .directions import trainable_parameters


class TrajectoryRecorder:
    """Records sparse weight snapshots while a session trains.

    Args:
        model: the model whose trainable parameters are recorded.
        every: record exactly every ``every`` steps (deterministic), else time-throttled.
        max_rate: at most this many snapshots per second.
        budget: at most this fraction of wall time spent recording (0 < budget < 1).
        max_bytes: memory for the ring of snapshots (at least 4 snapshots must fit).

    Raises:
        ValueError: bad arguments, a model without trainable parameters, or one too big for
            four snapshots in ``max_bytes``.

    Example:
        >>> rec = TrajectoryRecorder(session.model).attach(session)
        >>> steps, weights = rec.snapshots()    # (n,), (n, D) float32
    """

    def __init__(self, model: nn.Module, *, every: int | None = None, max_rate: float = 5.0,
                 budget: float = 0.0025, max_bytes: int = 256 << 20) -> None:
        if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
            raise ValueError(f"every must be a whole number >= 1, got {every!r}")
        if not (isinstance(max_rate, (int, float)) and max_rate > 0):
            raise ValueError(f"max_rate must be > 0 snapshots per second, got {max_rate!r}")
        if not (isinstance(budget, (int, float)) and 0 < budget < 1):
            raise ValueError(f"budget must be a fraction of time between 0 and 1, got {budget!r}")
        self.model = model
        self.size = sum(p.numel() for p in trainable_parameters(model))
        capacity = int(max_bytes) // (4 * self.size) if isinstance(max_bytes, int) else 0
        capacity -= capacity % 2
        if capacity < 4:
            raise ValueError(f"max_bytes={max_bytes!r} holds fewer than 4 snapshots of {self.size:,} "
                             f"weights ({4 * self.size:,} bytes each): raise max_bytes")
        self.capacity = min(capacity, 512)
        self.every, self.max_rate, self.budget = every, float(max_rate), float(budget)
        self._lock = threading.Lock()
        self._ring: list[tuple[int, np.ndarray]] = []
        self._latest: tuple[int, np.ndarray] | None = None
        self._stride, self.samples_taken, self.version = 1, 0, 0
        self.time_spent, self._next_time = 0.0, 0.0
        self._session: Any = None
        self._handles: list[Any] = []

    @property
    def nbytes(self) -> int:
        return (len(self._ring) + 1) * 4 * self.size

    def attach(self, session: Any) -> TrajectoryRecorder:
        """Record while ``session`` trains; the weights now are the first snapshot."""
        if self._session is not None:
            raise RuntimeError("this recorder is already attached; call detach() first")
        if _fires_callbacks(session):
            session.run_at_batch_boundary(lambda: self._record(int(session.step_count))).result()
            session.add_callback(self)
        elif getattr(session, "optimizer", None) is not None:
            self._record(int(getattr(session, "step_count", 0)))
            self._handles = [session.optimizer.register_step_post_hook(
                lambda *_: self._maybe(int(session.step_count) + 1))]
        else:
            raise ValueError("this run has no optimizer to follow; pass it: nbviz.watch(model, optimizer)")
        self._session = session
        return self

    def detach(self) -> None:
        session, self._session = self._session, None
        if session is not None and hasattr(session, "remove_callback"):
            session.remove_callback(self)
        for handle in self._handles:
            handle.remove()
        self._handles = []

    @property
    def attached(self) -> bool:
        return self._session is not None

    # ---- the training thread -------------------------------------------------------------
    def on_batch_end(self, run: Any) -> None:
        self._maybe(int(getattr(run, "step_count", 0)))

    def _maybe(self, step: int) -> None:
        if self.every is not None:
            if step % self.every == 0:
                self._record(step)
            return
        if time.perf_counter() >= self._next_time:
            self._record(step)

    def _record(self, step: int) -> None:
        t0 = time.perf_counter()
        flat = np.empty(self.size, np.float32)
        offset = 0
        with torch.no_grad():
            for p in trainable_parameters(self.model):
                n = p.numel()
                flat[offset:offset + n] = p.detach().reshape(-1).to("cpu", torch.float32).numpy()
                offset += n
        self._add((step, flat))
        cost = time.perf_counter() - t0
        self.time_spent += cost
        self._next_time = time.perf_counter() + max(1.0 / self.max_rate, cost / self.budget)

    def _add(self, item: tuple[int, np.ndarray]) -> None:
        with self._lock:
            k = self.samples_taken
            if k % self._stride == 0:
                ring = self._ring
                if len(ring) >= self.capacity:
                    ring = ring[::2]  # keeps the first snapshot; evenly spaced over the run
                    self._stride *= 2
                if k % self._stride == 0:
                    ring = [*ring, item]
                self._ring = ring
            self._latest = item
            self.samples_taken += 1
            self.version += 1

    # ---- reading (any thread) ------------------------------------------------------------
    def snapshots(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps (n,), weights (n, D) float32), oldest first, ending with the newest."""
        with self._lock:
            ring, latest = list(self._ring), self._latest
        if latest is not None and (not ring or ring[-1] is not latest):
            ring.append(latest)
        if not ring:
            return np.zeros(0, np.int64), np.zeros((0, self.size), np.float32)
        return np.array([s for s, _ in ring], np.int64), np.stack([w for _, w in ring])

    def latest(self) -> tuple[int, np.ndarray] | None:
        return self._latest

    def first(self) -> tuple[int, np.ndarray] | None:
        with self._lock:
            return self._ring[0] if self._ring else None

    def __len__(self) -> int:
        return len(self.snapshots()[0])
