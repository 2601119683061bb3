"""The plane through three inputs (images): points a + s (b - a) + t (c - a) on a grid.

The grid in (s, t) includes s, t = 0 and 1 exactly, so the three inputs are grid points:
``a`` at (0, 0) (bottom left), ``b`` at (1, 0) (bottom right), ``c`` at (0, 1) (top left),
with a margin around them. The map is computed on a copy of the model (probe rules), in
chunks, and can be refined progressively (a coarse grid first).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..probes.guard import model_device, probe_mode
from .grid import probabilities_of

MIN_PLANE, MAX_PLANE = 4, 256
MARGIN_STEPS = 0.1  # margin on each side, as a share of the a-b (a-c) distance


@dataclass(frozen=True)
class PlaneGrid:
    """``resolution`` x ``resolution`` coefficients (s, t); row 0 is the top (largest t)."""

    resolution: int = 64

    def __post_init__(self) -> None:
        res = self.resolution
        if isinstance(res, bool) or not isinstance(res, int) or not MIN_PLANE <= res <= MAX_PLANE:
            raise ValueError(f"the plane's resolution must be a whole number from {MIN_PLANE} to {MAX_PLANE}, "
                             f"got {res!r}")

    @property
    def margin_steps(self) -> int:
        return max(1, round(MARGIN_STEPS * (self.resolution - 1) / (1 + 2 * MARGIN_STEPS)))

    def axis(self) -> np.ndarray:
        """The s (and t) values: 0 and 1 are among them, ``margin_steps`` beyond each end."""
        k, res = self.margin_steps, self.resolution
        step = 1.0 / (res - 1 - 2 * k)
        return (np.arange(res) - k) * step

    def index_of(self, s: float, t: float) -> tuple[int, int]:
        """(row, column) of the grid point at coefficients (s, t) (0 or 1)."""
        k, res = self.margin_steps, self.resolution
        top = res - 1 - k
        return int(round(top - t * (top - k))), int(round(k + s * (res - 1 - 2 * k)))


def check_three(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, tolerance: float = 1e-4) -> None:
    """Raise ValueError when two inputs coincide or the three lie on one line."""
    if not (a.shape == b.shape == c.shape):
        raise ValueError(f"the three inputs must have the same shape, got {tuple(a.shape)}, "
                         f"{tuple(b.shape)}, {tuple(c.shape)}")
    u, w = (b - a).double().reshape(-1), (c - a).double().reshape(-1)
    scale = max(float(a.double().norm()), float(b.double().norm()), float(c.double().norm()), 1e-12)
    if float(u.norm()) <= tolerance * scale or float(w.norm()) <= tolerance * scale \
            or float((c - b).double().norm()) <= tolerance * scale:
        raise ValueError("two of the three inputs coincide, so they span no plane; pick three different samples")
    perpendicular = w - (w @ u) / (u @ u) * u
    if float(perpendicular.norm()) <= tolerance * float(w.norm()):
        raise ValueError("the three inputs lie on one line, so they span no plane; pick a sample off that line")


def plane_inputs(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, grid: PlaneGrid) -> torch.Tensor:
    """All grid points as inputs: (resolution², *a.shape), row by row from the top."""
    axis = torch.from_numpy(grid.axis()).to(a.dtype)
    t, s = torch.meshgrid(axis.flip(0), axis, indexing="ij")
    s, t = s.reshape(-1, *([1] * a.dim())), t.reshape(-1, *([1] * a.dim()))
    return a + s * (b - a) + t * (c - a)


@torch.no_grad()
def plane_probabilities(model: nn.Module, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor,
                        grid: PlaneGrid, chunk: int = 512,
                        cancelled: Callable[[], bool] | None = None) -> np.ndarray | None:
    """Class probabilities (resolution x resolution x classes) on the plane through a, b, c.

    Runs ``model`` (use a copy while training runs) under :func:`probe_mode` in chunks;
    returns None as soon as ``cancelled()`` is true between two chunks.
    """
    check_three(a, b, c)
    inputs = plane_inputs(a.float(), b.float(), c.float(), grid)
    device = model_device(model)
    parts = []
    with probe_mode(model):
        for start in range(0, len(inputs), chunk):
            if cancelled is not None and cancelled():
                return None
            outputs = model(inputs[start:start + chunk].to(device))
            if isinstance(outputs, (tuple, list)):
                outputs = outputs[0]
            if isinstance(outputs, dict):
                outputs = next(iter(outputs.values()))
            parts.append(probabilities_of(outputs).cpu())
    res = grid.resolution
    return torch.cat(parts).numpy().reshape(res, res, -1)


__all__ = ["PlaneGrid", "check_three", "plane_inputs", "plane_probabilities"]
