"""Loss and accuracy on a plane through the weights, computed progressively in a worker thread.

The grid starts coarse (9 x 9) and is refined to the full size (41 x 41 by default): the
coarse points are a subset of the fine grid, so nothing is computed twice, and until the fine
grid is complete its missing points show the nearest coarse value. Evaluation runs on a copy
of the model in eval mode (BatchNorm uses its running statistics), so training is untouched.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .evaluate import LossFn, check_probe, evaluate_at


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


class SurfaceJob:
    """Computes loss/accuracy over ``size`` x ``size`` points of [-span, span]^2 on a plane.

    Args:
        model: a copy of the model (see evaluate.model_copy); the job writes its weights.
        plane: origin and directions.
        inputs, targets: the probe set.
        loss_fn: the session's loss function.
        size, coarse: the fine and first grid (coarse points lie on the fine grid).
        span: the grid covers a, b in [-span, span].
        on_progress: called from the worker after each point (keep it cheap: set a flag).

    Raises:
        ValueError: a grid size, range or probe out of bounds.
    """

    def __init__(self, model: nn.Module, plane: Plane, inputs: torch.Tensor, targets: torch.Tensor,
                 loss_fn: LossFn, *, size: int = 41, coarse: int = 9, span: float = 1.0,
                 on_progress: Callable[[], None] | None = None) -> None:
        self.size, self.coarse, self.span = check_grid(size, coarse, span)
        check_probe(inputs, targets)
        self.model, self.plane = model, plane
        self.inputs, self.targets, self.loss_fn = inputs, targets, loss_fn
        self.coords = np.linspace(-self.span, self.span, self.size).astype(np.float32)
        self.loss = np.full((self.size, self.size), np.nan, np.float32)  # [row b, column a]
        self.acc = np.full((self.size, self.size), np.nan, np.float32)
        stride = (self.size - 1) // (self.coarse - 1)
        first = [(i, j) for i in range(0, self.size, stride) for j in range(0, self.size, stride)]
        rest = [(i, j) for i in range(self.size) for j in range(self.size) if i % stride or j % stride]
        self._order, self._stride = first + rest, stride
        self.total, self.done = len(self._order), 0
        self.error: Exception | None = None
        self.state = "ready"  # ready, running, done, cancelled, failed
        self.seconds = 0.0
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._on_progress = on_progress
        self._thread: threading.Thread | None = None

    @property
    def progress(self) -> float:
        return self.done / self.total

    @property
    def coarse_done(self) -> bool:
        return self.done >= self.coarse ** 2

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
        """Compute every point in order (in the calling thread), until done or cancelled."""
        self.state = "running"
        t0 = time.perf_counter()
        try:
            for i, j in self._order:
                if self._cancel.is_set():
                    self.state = "cancelled"
                    return
                a, b = float(self.coords[j]), float(self.coords[i])
                loss, acc = evaluate_at(self.model, self.plane.point(a, b), self.inputs,
                                        self.targets, self.loss_fn)
                with self._lock:
                    self.loss[i, j], self.acc[i, j] = loss, acc
                    self.done += 1
                if self._on_progress is not None:
                    self._on_progress()
            self.state = "done"
        except Exception as error:  # reported on the view; the user's model is a different object
            self.error, self.state = error, "failed"
        finally:
            self.seconds = time.perf_counter() - t0

    def grids(self) -> tuple[np.ndarray, np.ndarray, int]:
        """(loss, acc, points known) for display: fresh copies; until the fine grid is complete,
        missing points take the value of the nearest coarse point."""
        with self._lock:
            loss, acc, done = self.loss.copy(), self.acc.copy(), self.done
        if done < self.total:
            s = self._stride
            idx = np.minimum((np.arange(self.size) + s // 2) // s * s, self.size - 1)
            for grid in (loss, acc):
                filled = grid[np.ix_(idx, idx)]
                missing = np.isnan(grid)
                grid[missing] = filled[missing]
        return loss, acc, done
