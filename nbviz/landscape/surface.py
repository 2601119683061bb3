"""Loss and accuracy on a plane through the weights, computed progressively in a worker thread.

The grid is computed in nested levels, each a subset of the next, so no point is computed
twice: for 41 x 41 (coarse 9) the levels are 3, 5, 9, 17, 33 and 41 points a side (the first
surface after 9 points, the 9 x 9 after 81). Until the fine grid is complete, its missing
points show the value of the nearest point of the last complete level. Evaluation runs on a
copy of the model in eval mode (BatchNorm uses its running statistics), so training is
untouched; see evaluate.ProbeEvaluator for what makes a point cheap.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .evaluate import LossFn, ProbeEvaluator, check_probe
from .threads import parallel_workers, set_thread_ops


@dataclass(frozen=True)
class Plane:
    """origin + a * d1 + b * d2 over the trainable parameters (flat float32 tensors)."""

    origin: torch.Tensor
    d1: torch.Tensor
    d2: torch.Tensor
    kind: str = "random"
    note: str = ""

    def point(self, a: float, b: float) -> torch.Tensor:
        return self.origin + a * self.d1 + b * self.d2


def project(points: np.ndarray | torch.Tensor, plane: Plane) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates (a, b) of each point's orthogonal projection onto the plane, and the
    distance of each point from the plane (0 for a point in it)."""
    x = torch.as_tensor(np.asarray(points, dtype=np.float32)).double()
    if x.dim() == 1:
        x = x[None]
    x = x - plane.origin.double()
    basis = torch.stack([plane.d1.double(), plane.d2.double()])  # 2 x D
    gram = basis @ basis.T
    if float(torch.linalg.det(gram)) <= 1e-12 * float(gram.diagonal().prod()):
        raise ValueError("the two directions are parallel: pick two different directions")
    coef = torch.linalg.solve(gram, basis @ x.T)  # 2 x n
    residual = x - coef.T @ basis
    return coef[0].numpy(), coef[1].numpy(), residual.norm(dim=1).numpy()


def check_grid(size: object, coarse: object, span: object) -> tuple[int, int, float]:
    if isinstance(size, bool) or not isinstance(size, int) or not 5 <= size <= 101 or size % 2 == 0:
        raise ValueError(f"grid size must be an odd whole number in 5..101, got {size!r}")
    if (isinstance(coarse, bool) or not isinstance(coarse, int) or not 3 <= coarse <= size
            or (size - 1) % (coarse - 1)):
        raise ValueError(f"coarse grid must be 3..{size} points with (size-1) divisible by (coarse-1) "
                         f"so its points lie on the fine grid (9 for 41), got {coarse!r}")
    if isinstance(span, bool) or not isinstance(span, (int, float)) or not 0 < span <= 100:
        raise ValueError(f"range must be a number in (0, 100] (multiples of the directions), got {span!r}")
    return size, coarse, float(span)


def axis_levels(size: int, coarse: int) -> np.ndarray:
    """The refinement level of each index 0..size-1 of one axis: level k holds the indices of
    the k-th nested grid. Coarser than ``coarse``: strides doubled while 3+ points remain;
    finer: the midpoint of every gap wider than 1 is added, until every index is in."""
    level = np.full(size, -1, np.int64)
    stride = (size - 1) // (coarse - 1)
    strides = [stride]
    while (size - 1) % (2 * strides[-1]) == 0 and 2 * strides[-1] <= (size - 1) // 2:
        strides.append(2 * strides[-1])
    k = 0
    for s in reversed(strides):
        fresh = [i for i in range(0, size, s) if level[i] < 0]
        level[fresh] = k
        k += 1
    while (level < 0).any():
        known = np.flatnonzero(level >= 0)
        mids = [(i + j) // 2 for i, j in zip(known[:-1], known[1:], strict=True) if j - i > 1]
        level[mids] = k
        k += 1
    return level


class SurfaceJob:
    """Computes loss/accuracy over ``size`` x ``size`` points of [-span, span]^2 on a plane.

    Args:
        model: a copy of the model (see evaluate.model_copy); the job writes its weights.
        plane: origin and directions.
        inputs, targets: the probe set.
        loss_fn: the session's loss function.
        size, coarse: the fine grid and the nested level shown as "coarse" (its points lie on
            the fine grid); coarser levels come before it.
        span: the grid covers a, b in [-span, span].
        workers: threads evaluating different points, each with its own copy of the model and
            one op thread where threads.set_thread_ops can give it that (else torch's setting);
            default threads.parallel_workers(), torch's op thread count. The calling thread is
            the first worker.
        on_progress: called from a worker after each point (keep it cheap: set a flag).

    Raises:
        ValueError: a grid size, range, probe or worker count out of bounds.
    """

    def __init__(self, model: nn.Module, plane: Plane, inputs: torch.Tensor, targets: torch.Tensor,
                 loss_fn: LossFn, *, size: int = 41, coarse: int = 9, span: float = 1.0,
                 workers: int | None = None, on_progress: Callable[[], None] | None = None) -> None:
        self.size, self.coarse, self.span = check_grid(size, coarse, span)
        check_probe(inputs, targets)
        if workers is None:  # CPU threads; a model on a GPU is evaluated by one thread
            on_cpu = all(p.device.type == "cpu" for p in model.parameters())
            workers = parallel_workers() if on_cpu else 1
        if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 64:
            raise ValueError(f"workers must be a whole number in 1..64, got {workers!r}")
        self.workers = workers
        self.model, self.plane = model, plane
        self.inputs, self.targets, self.loss_fn = inputs, targets, loss_fn
        self.coords = np.linspace(-self.span, self.span, self.size).astype(np.float32)
        self.loss = np.full((self.size, self.size), np.nan, np.float32)  # [row b, column a]
        self.acc = np.full((self.size, self.size), np.nan, np.float32)
        self._axis_level = axis_levels(self.size, self.coarse)
        level = np.maximum.outer(self._axis_level, self._axis_level)  # a point's level: its coarser axis
        self._order = [(int(i), int(j)) for i, j in zip(*np.unravel_index(
            np.argsort(level, axis=None, kind="stable"), level.shape), strict=True)]
        self._level_done = np.cumsum(np.bincount(level.ravel()))  # points known once level k is
        self.total, self.done = len(self._order), 0
        self._finished = np.zeros(self.total, bool)
        self._prefix = 0  # points of the order all finished (workers may finish out of order)
        self._next = 0
        self.error: Exception | None = None
        self.state = "ready"  # ready, running, done, cancelled, failed
        self.seconds = self.cpu_seconds = 0.0  # wall, and CPU time of the job's threads
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._on_progress = on_progress
        self._thread: threading.Thread | None = None

    @property
    def progress(self) -> float:
        return self.done / self.total

    @property
    def coarse_done(self) -> bool:
        return self._prefix >= self.coarse ** 2

    def _complete_levels(self, prefix: int) -> int:
        return int(np.searchsorted(self._level_done, prefix, side="right"))

    def level_size(self) -> int:
        """Points a side of the finest complete level (0 before the first level is)."""
        return int((self._axis_level < self._complete_levels(self._prefix)).sum())

    def start(self) -> SurfaceJob:
        self.state = "running"
        self._thread = threading.Thread(target=self.run, name="nbviz-landscape", daemon=True)
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        """Compute every point in level order (in the calling thread and ``workers - 1`` more),
        until done or cancelled."""
        self.state = "running"
        t0 = time.perf_counter()
        cpu: list[float] = []
        try:
            models = [self.model] + [copy.deepcopy(self.model) for _ in range(self.workers - 1)]
            helpers = [threading.Thread(target=self._work, args=(m, cpu), daemon=True,
                                        name="nbviz-landscape-worker") for m in models[1:]]
            for thread in helpers:
                thread.start()
            self._work(models[0], cpu)
            for thread in helpers:
                thread.join()
            if self.error is not None:
                self.state = "failed"
            else:
                self.state = "cancelled" if self._cancel.is_set() and self.done < self.total else "done"
        except Exception as error:  # reported on the view; the user's model is a different object
            self.error, self.state = error, "failed"
        finally:
            self.seconds = time.perf_counter() - t0
            self.cpu_seconds = sum(cpu)

    def _work(self, model: nn.Module, cpu: list[float]) -> None:
        c0 = time.thread_time()
        before = set_thread_ops(1)
        try:
            evaluator = ProbeEvaluator(model, self.inputs, self.targets, self.loss_fn)
            evaluator.set_plane(self.plane.origin, self.plane.d1, self.plane.d2)
            while not self._cancel.is_set():
                with self._lock:
                    k = self._next
                    if k >= self.total:
                        return
                    self._next += 1
                i, j = self._order[k]
                loss, acc = evaluator.at(float(self.coords[j]), float(self.coords[i]))
                with self._lock:
                    self.loss[i, j], self.acc[i, j] = loss, acc
                    self._finished[k] = True
                    while self._prefix < self.total and self._finished[self._prefix]:
                        self._prefix += 1
                    self.done += 1
                if self._on_progress is not None:
                    self._on_progress()
        except Exception as error:  # the first failure stops every worker
            with self._lock:
                if self.error is None:
                    self.error = error
            self._cancel.set()
        finally:
            if before is not None:
                set_thread_ops(before)  # the calling thread may be the user's
            with self._lock:
                cpu.append(time.thread_time() - c0)

    def grids(self) -> tuple[np.ndarray, np.ndarray, int]:
        """(loss, acc, points known) for display: fresh copies; until the fine grid is complete,
        missing points take the value of the nearest point of the last complete level."""
        with self._lock:
            loss, acc, done, prefix = self.loss.copy(), self.acc.copy(), self.done, self._prefix
        complete = self._complete_levels(prefix)
        if done < self.total and complete > 0:
            known = np.flatnonzero(self._axis_level < complete)
            nearest = np.abs(np.arange(self.size)[:, None] - known[None, :]).argmin(axis=1)
            idx = known[nearest]
            for grid in (loss, acc):
                filled = grid[np.ix_(idx, idx)]
                missing = np.isnan(grid)
                grid[missing] = filled[missing]
        return loss, acc, done
