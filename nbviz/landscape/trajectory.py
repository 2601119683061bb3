"""The path training takes, recorded from the training thread at bounded memory and time.

:class:`TrajectoryRecorder` is a session callback (``on_batch_end``). On a sampled step it
copies the trainable parameters into one flat float32 array. Snapshots live in a thinning
ring (as nbviz.probes.param_stats does): when the ring is full every other one is dropped and
later samples are kept half as often, so the ring covers the whole run evenly; the first
snapshot (the weights training started from) always stays, and the newest is always kept.
Memory is capped in bytes (``max_bytes``); time by a fraction of wall time (``budget``,
spent as :class:`~nbviz.probes.budget.TimeBudget` says).
It only reads tensors, so training is bit-identical with and without it.

A snapshot is a single-threaded copy of the parameters into a flat buffer reused from
snapshots the thinning dropped, or made ready (allocated, pages touched) by a small spare
thread: the training thread neither allocates nor page-faults. About 0.1 ms of the training
thread's CPU for the reference CNN's 106k weights (bench/landscape.py prints it).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from ..probes.budget import TimeBudget
from ..probes.param_stats import _fires_callbacks
from .directions import trainable_parameters

SPARE = 2  # buffers kept ready for the next snapshots
NUMPY_COPY = (torch.float32, torch.float16, torch.float64)


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
        self._params = list(trainable_parameters(model))
        self._free: list[tuple[np.ndarray, list[torch.Tensor]]] = []  # buffers to reuse, with views
        self._live: dict[int, tuple[np.ndarray, list[torch.Tensor]]] = {}  # ring and newest
        self._ring: list[tuple[int, np.ndarray]] = []
        self._latest: tuple[int, np.ndarray] | None = None
        self._stride, self.samples_taken, self.version, self._readers = 1, 0, 0, 0
        self._latest_in_ring = False
        self._last_step = -1
        self._want = threading.Event()
        self._timing = TimeBudget(1.0 / self.max_rate, self.budget)
        self.cpu_spent = 0.0  # seconds of the training thread's CPU spent recording
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
        threading.Thread(target=self._spares, name="nbviz-trajectory-spares", daemon=True).start()
        self._want.set()
        return self

    def detach(self) -> None:
        session, self._session = self._session, None
        self._want.set()  # the spare thread sees no session and ends
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
        # each call follows one optimizer step: nbviz.watch fires on_batch_end from the
        # optimizer hook before log() counts the step, so its step_count lags by one there
        step = max(step, self._last_step + 1)
        self._last_step = step
        if self.every is not None:
            if step % self.every == 0:
                self._record(step)
            return
        if self._timing.due():
            self._record(step)

    def _new_buffer(self) -> tuple[np.ndarray, list[torch.Tensor]]:
        flat = np.empty(self.size, np.float32)
        flat.fill(0.0)  # touch the pages here (np.zeros may map untouched zero pages)
        pieces = torch.from_numpy(flat).split([p.numel() for p in self._params])
        return flat, [piece.view(p.shape) for piece, p in zip(pieces, self._params, strict=True)]

    def _buffer(self) -> tuple[np.ndarray, list[torch.Tensor]]:
        with self._lock:
            if self._free:
                buffer = self._free.pop()
                if len(self._free) < SPARE:
                    self._want.set()
                return buffer
        self._want.set()
        return self._new_buffer()  # the spare thread fell behind: allocate here

    def _spares(self) -> None:
        """Background thread: keeps SPARE buffers allocated and touched, so the training thread
        neither allocates nor page-faults (a fresh 0.4 MB buffer cost ~2.7 ms of faults)."""
        while True:
            self._want.wait()
            self._want.clear()
            if self._session is None:
                return
            while True:
                with self._lock:
                    room = len(self._free) < SPARE and len(self._free) + len(self._live) <= self.capacity
                if not room:
                    break
                buffer = self._new_buffer()
                with self._lock:
                    self._free.append(buffer)

    def _record(self, step: int) -> None:
        self._last_step = step
        t0, c0 = time.perf_counter(), time.thread_time()
        flat, views = self._buffer()
        with torch.no_grad():
            for view, p in zip(views, self._params, strict=True):
                if p.device.type == "cpu" and p.dtype in NUMPY_COPY:
                    # numpy's copy is single-threaded: torch's copy_ of a 100k-value tensor runs
                    # an OpenMP region, which cost 2.8 ms instead of 0.13 ms when the machine
                    # was loaded (the partner thread spin-waited, descheduled)
                    np.copyto(view.numpy(), p.detach().numpy())
                else:
                    view.copy_(p.detach())
        self._add((step, flat), views)
        self.cpu_spent += time.thread_time() - c0
        self._timing.record(time.perf_counter() - t0)

    @property
    def time_spent(self) -> float:
        """Seconds of wall time spent recording."""
        return self._timing.spent

    def _add(self, item: tuple[int, np.ndarray], views: list[torch.Tensor]) -> None:
        with self._lock:
            self._live[id(item[1])] = (item[1], views)
            dropped: list[tuple[int, np.ndarray]] = []
            if self._latest is not None and not self._latest_in_ring:
                dropped.append(self._latest)
            k, appended = self.samples_taken, False
            if k % self._stride == 0:
                if len(self._ring) >= self.capacity:
                    dropped += self._ring[1::2]
                    self._ring = self._ring[::2]  # keeps the first snapshot; evenly spaced over the run
                    self._stride *= 2
                if k % self._stride == 0:
                    self._ring.append(item)
                    appended = True
            self._latest, self._latest_in_ring = item, appended
            self.samples_taken += 1
            self.version += 1
            # dropped buffers are reused for later snapshots, unless a reader may be copying
            # them; ring + newest + spares never exceed capacity + 1 buffers (max_bytes)
            for _step, weights in dropped:
                buffer = self._live.pop(id(weights))
                if not self._readers and len(self._free) + len(self._live) <= self.capacity:
                    self._free.append(buffer)

    # ---- reading (any thread) ------------------------------------------------------------
    def snapshots(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps (n,), weights (n, D) float32), oldest first, ending with the newest."""
        with self._lock:
            ring, latest = list(self._ring), self._latest
            self._readers += 1  # no buffer is reused while it is copied here
        try:
            if latest is not None and (not ring or ring[-1] is not latest):
                ring.append(latest)
            if not ring:
                return np.zeros(0, np.int64), np.zeros((0, self.size), np.float32)
            return np.array([s for s, _ in ring], np.int64), np.stack([w for _, w in ring])
        finally:
            with self._lock:
                self._readers -= 1

    def latest(self) -> tuple[int, np.ndarray] | None:
        """(step, weights) of the newest snapshot: a copy (its buffer is reused later)."""
        with self._lock:
            latest = self._latest
            return None if latest is None else (latest[0], latest[1].copy())

    def first(self) -> tuple[int, np.ndarray] | None:
        with self._lock:
            return self._ring[0] if self._ring else None

    def __len__(self) -> int:
        return len(self.snapshots()[0])
