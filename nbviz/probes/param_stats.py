"""Weight and gradient statistics recorded from the training thread, in bounded memory.

:class:`ParamStats` is a session callback. On a sampled step it reads every parameter's
gradient after the backward pass (``on_after_backward``, just before the optimizer step)
and the parameters before and after the optimizer step (``on_batch_end``), and stores a
:class:`Snapshot`: per-parameter histograms of weights and gradients, norms and the
update-to-weight ratio. It only reads tensors: no gradient, parameter, buffer or RNG state
is changed, so training is bit-identical with and without it.

Cost is kept under a budget: a step is sampled at most ``max_rate`` times per second and
only when the time spent recording stays below ``budget`` of the wall time (a big model
is sampled less often: :class:`~nbviz.probes.budget.TimeBudget`), or deterministically every
``every`` steps when that is given.
Snapshots live in a thinning ring: when ``capacity`` is reached every other snapshot is
dropped and from then on every other sample is kept, so the look-back covers the whole run
evenly at a coarser spacing and memory never grows; the newest sample is always kept too.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .budget import TimeBudget


@dataclass(frozen=True)
class Histogram:
    """Counts of values in ``bins`` equal bins between ``lo`` and ``hi`` (non-finite counted apart)."""

    counts: np.ndarray  # int64, shape (bins,)
    lo: float
    hi: float
    nonfinite: int = 0

    @property
    def edges(self) -> np.ndarray:
        return np.linspace(self.lo, self.hi, len(self.counts) + 1)

    def resample(self, lo: float, hi: float, bins: int) -> np.ndarray:
        """The fraction of values in each of ``bins`` bins of [lo, hi] (a common grid over time)."""
        total = self.counts.sum()
        if total == 0:
            return np.zeros(bins)
        cdf = np.concatenate([[0.0], np.cumsum(self.counts) / total])
        grid = np.linspace(lo, hi, bins + 1)
        if self.hi > self.lo:
            at = np.interp(grid, self.edges, cdf, left=0.0, right=1.0)
        else:  # every value equal: a step at lo
            at = (grid >= self.lo).astype(float)
        return np.diff(at)


@dataclass(frozen=True)
class ParamRecord:
    """One parameter tensor at one sampled step."""

    weight: Histogram
    grad: Histogram | None  # None: the parameter got no gradient (frozen or unused)
    weight_norm: float
    grad_norm: float  # nan without gradient, inf with non-finite gradients
    update_ratio: float  # ||w_after - w_before|| / ||w_before||; nan when unknown
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1


@dataclass(frozen=True)
class Snapshot:
    """Statistics of every trainable parameter at one training step."""

    step: int
    wall_time: float
    params: dict[str, ParamRecord] = field(default_factory=dict)


def histogram(tensor: torch.Tensor, bins: int, max_values: int = 1 << 16) -> Histogram:
    """Histogram of a tensor's finite values over their own range.

    Tensors larger than ``max_values`` are histogrammed on an evenly strided subset (same
    shape of distribution, a fraction of the cost); ``lo``/``hi`` are always exact.
    """
    flat = tensor.detach().reshape(-1)
    if flat.dtype != torch.float32:
        flat = flat.float()
    nonfinite = 0
    if not math.isfinite(float(torch.linalg.vector_norm(flat))):  # cheaper than isfinite().all()
        finite = torch.isfinite(flat)
        nonfinite = int((~finite).sum())
        flat = flat[finite]
    if flat.numel() == 0:
        return Histogram(np.zeros(bins, dtype=np.int64), 0.0, 0.0, nonfinite)
    lo_t, hi_t = torch.aminmax(flat)
    lo, hi = float(lo_t), float(hi_t)
    if hi <= lo:
        counts = np.zeros(bins, dtype=np.int64)
        counts[0] = flat.numel()
        return Histogram(counts, lo, lo, nonfinite)
    if flat.numel() > max_values:
        flat = flat[:: -(-flat.numel() // max_values)]
    counts = torch.histc(flat, bins, lo, hi).to(torch.int64).cpu().numpy()
    return Histogram(counts, lo, hi, nonfinite)


def _check_positive_int(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return value


class ParamStats:
    """Records weight/gradient histograms, gradient norms and update ratios while training.

    Args:
        model: the model whose parameters are watched (named by dotted parameter name).
        every: sample exactly every ``every`` steps (deterministic; for tests and scripts).
            When None (the default) sampling is time-throttled by ``max_rate`` and ``budget``.
        max_rate: at most this many samples per second.
        budget: at most this fraction of wall time spent recording (0 < budget < 1).
        capacity: snapshots kept for look-back (an even number >= 4), plus the newest; when
            full, every other one is dropped and later samples are kept half as often.
        bins: histogram bins per tensor.

    Raises:
        TypeError, ValueError: for arguments of the wrong kind or out of range.

    Example:
        >>> stats = ParamStats(session.model)
        >>> stats.attach(session)        # records while the session trains
        >>> stats.latest().params["conv1.weight"].grad_norm
        >>> stats.detach()
    """

    def __init__(self, model: nn.Module, *, every: int | None = None, max_rate: float = 2.0,
                 budget: float = 0.0025, capacity: int = 256, bins: int = 32) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if every is not None:
            _check_positive_int("every", every)
        if not (isinstance(max_rate, (int, float)) and max_rate > 0):
            raise ValueError(f"max_rate must be a number of samples per second > 0, got {max_rate!r}")
        if not (isinstance(budget, (int, float)) and 0 < budget < 1):
            raise ValueError(f"budget must be a fraction of time between 0 and 1, got {budget!r}")
        _check_positive_int("capacity", capacity, 4)
        if capacity % 2:
            raise ValueError(f"capacity must be even (it is thinned by halves), got {capacity}")
        self.model = model
        self.every = every
        self.max_rate = float(max_rate)
        self.budget = float(budget)
        self.capacity = capacity
        self.bins = _check_positive_int("bins", bins, 2)
        self._lock = threading.Lock()
        self._ring: list[Snapshot] = []  # evenly spaced over the run, at most `capacity`
        self._latest: Snapshot | None = None
        self._stride = 1  # samples per ring entry; doubles at each thinning
        self.version = 0  # bumps on every new snapshot
        self.samples_taken = 0
        self._timing = TimeBudget(1.0 / self.max_rate, self.budget)
        self._pending: dict[str, Any] | None = None
        self._session: Any = None
        self._opt_handles: list[Any] = []

    # ---- attaching -------------------------------------------------------------------------
    def attach(self, session: Any) -> ParamStats:
        """Record while ``session`` trains (a TrainingSession, or a watch() with an optimizer)."""
        if self._session is not None:
            raise RuntimeError("these ParamStats are already attached; call detach() first")
        self._session = session
        if _fires_callbacks(session):
            session.add_callback(self)
        else:
            self._session = None
            raise ValueError("this run has no optimizer to watch; pass it: nbviz.watch(model, optimizer)")
        return self

    def detach(self) -> None:
        """Stop recording and remove every hook and callback (the snapshots stay readable)."""
        session, self._session = self._session, None
        if session is not None:
            session.remove_callback(self)
        for handle in self._opt_handles:
            handle.remove()
        self._opt_handles = []
        self._pending = None

    @property
    def attached(self) -> bool:
        return self._session is not None

    # ---- the training thread ---------------------------------------------------------------
    def _due(self, step: int) -> bool:
        if self.every is not None:
            return step % self.every == 0
        return self._timing.due()

    def on_after_backward(self, run: Any) -> None:
        """Read gradients (complete now) and keep the weights as they were before the step."""
        step = int(getattr(run, "step_count", 0)) + 1
        self._pending = None
        if not self._due(step):
            return
        t0 = time.perf_counter()
        params, before = {}, {}
        with torch.no_grad():
            for name, p in self.model.named_parameters():
                if not p.requires_grad:
                    continue
                grad = p.grad
                if grad is not None and grad.is_sparse:
                    grad = grad.to_dense()
                params[name] = (
                    histogram(p, self.bins),
                    None if grad is None else histogram(grad, self.bins),
                    _norm(grad),
                    tuple(p.shape),
                )
                before[name] = p.detach().clone()
        self._pending = {"step": step, "params": params, "before": before,
                         "cost": time.perf_counter() - t0}

    def on_batch_end(self, run: Any) -> None:
        """After the optimizer step: the update-to-weight ratios complete the snapshot."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        t0 = time.perf_counter()
        named = dict(self.model.named_parameters())
        records = {}
        with torch.no_grad():
            for name, (w_hist, g_hist, g_norm, shape) in pending["params"].items():
                old = pending["before"][name]
                w_norm = float(torch.linalg.vector_norm(old.float()))
                p = named.get(name)
                ratio = float("nan")
                if p is not None and p.shape == old.shape:
                    delta = float(torch.linalg.vector_norm((p.detach() - old).float()))
                    ratio = delta / w_norm if w_norm > 0 else (0.0 if delta == 0 else float("inf"))
                records[name] = ParamRecord(w_hist, g_hist, w_norm, g_norm, ratio, shape)
        wall = run.wall_time() if hasattr(run, "wall_time") else time.monotonic()
        self._add(Snapshot(pending["step"], wall, records))
        self._timing.record(pending["cost"] + time.perf_counter() - t0)

    @property
    def time_spent(self) -> float:
        """Seconds of training-thread time spent recording."""
        return self._timing.spent

    def _add(self, snapshot: Snapshot) -> None:
        with self._lock:
            k = self.samples_taken
            if k % self._stride == 0:
                ring = self._ring
                if len(ring) >= self.capacity:
                    # thin to every other snapshot and keep every other sample from now on:
                    # the ring stays evenly spaced over the whole run in bounded memory
                    ring = ring[::2]
                    self._stride *= 2
                if k % self._stride == 0:
                    ring = [*ring, snapshot]
                self._ring = ring
            self._latest = snapshot
            self.samples_taken += 1
            self.version += 1

    # ---- reading (any thread) --------------------------------------------------------------
    def snapshots(self) -> list[Snapshot]:
        """Kept snapshots, oldest first, always ending with the newest (a fresh list)."""
        with self._lock:
            ring, latest = self._ring, self._latest
        if latest is not None and (not ring or ring[-1] is not latest):
            return [*ring, latest]
        return list(ring)

    def latest(self) -> Snapshot | None:
        return self._latest

    def __len__(self) -> int:
        return len(self.snapshots())

    def names(self, weights_only: bool = False) -> list[str]:
        """Parameter names in model order (``weights_only``: tensors of 2+ dims, i.e. layer weights)."""
        return [n for n, p in self.model.named_parameters()
                if p.requires_grad and (not weights_only or p.dim() >= 2)]

    def series(self, name: str, field_name: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of one scalar field (grad_norm, weight_norm, update_ratio) over time."""
        if field_name not in ("grad_norm", "weight_norm", "update_ratio"):
            raise ValueError(f"field must be grad_norm, weight_norm or update_ratio, got {field_name!r}")
        snaps = [s for s in self.snapshots() if name in s.params]
        steps = np.array([s.step for s in snaps], dtype=np.float64)
        values = np.array([getattr(s.params[name], field_name) for s in snaps], dtype=np.float64)
        return steps, values

    def clear(self) -> None:
        with self._lock:
            self._ring, self._latest, self._stride = [], None, 1
            self.samples_taken = 0
            self.version += 1
        self._timing.reset()


def _norm(tensor: torch.Tensor | None) -> float:
    if tensor is None:
        return float("nan")
    value = float(torch.linalg.vector_norm(tensor.detach().float()))
    return value if np.isfinite(value) else float("inf")


def _fires_callbacks(session: Any) -> bool:
    """Whether the session fires on_after_backward and on_batch_end (the typed contract)."""
    from ..session.base import SessionBase
    return isinstance(session, SessionBase) and session.fires_backward_hooks
