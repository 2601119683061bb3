"""Loss and accuracy along the straight line between two weight vectors (Goodfellow et al. 2015)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from .evaluate import LossFn, ProbeEvaluator, check_probe


def check_alphas(points: object, lo: object, hi: object) -> np.ndarray:
    if isinstance(points, bool) or not isinstance(points, int) or not 3 <= points <= 401:
        raise ValueError(f"points must be a whole number in 3..401, got {points!r}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lo, hi)) \
            or not -10 <= float(lo) < float(hi) <= 10:  # type: ignore[arg-type]
        raise ValueError(f"the line must run over -10 <= start < end <= 10 (0 = first point, "
                         f"1 = second), got {lo!r}..{hi!r}")
    return np.linspace(float(lo), float(hi), points).astype(np.float32)  # type: ignore[arg-type]


def interpolate(model: nn.Module, start: torch.Tensor, end: torch.Tensor, inputs: torch.Tensor,
                targets: torch.Tensor, loss_fn: LossFn, *, points: int = 25, lo: float = -0.25,
                hi: float = 1.25, should_stop: Callable[[], bool] | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(alphas, loss, acc) at ``start + alpha * (end - start)``; ``model`` is a copy in eval mode.

    Raises:
        ValueError: bad points/range/probe, or two vectors of different lengths.
        InterruptedError: ``should_stop`` returned True.
    """
    alphas = check_alphas(points, lo, hi)
    check_probe(inputs, targets)
    if start.numel() != end.numel():
        raise ValueError(f"the two weight vectors differ in length ({start.numel()} vs {end.numel()}): "
                         "they belong to different models")
    loss = np.full(len(alphas), np.nan, np.float32)
    acc = np.full(len(alphas), np.nan, np.float32)
    evaluator = ProbeEvaluator(model, inputs, targets, loss_fn)
    evaluator.set_plane(start, end - start, torch.zeros_like(start))
    for k, alpha in enumerate(alphas):
        if should_stop is not None and should_stop():
            raise InterruptedError("cancelled")
        loss[k], acc[k] = evaluator.at(float(alpha), 0.0)
    return alphas, loss, acc
