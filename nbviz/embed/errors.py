"""Errors of the embedding package and the input checks every projection shares."""

from __future__ import annotations

from typing import Any

import numpy as np


class ProjectionError(ValueError):
    """A projection cannot run on the data it was given (the message says why and what to do)."""


class ProjectionCancelled(RuntimeError):
    """A running projection was cancelled through its ``cancel`` event."""


def check_points(X: Any, *, min_points: int = 2, name: str = "X") -> np.ndarray:
    """``X`` as a C-contiguous float32 array of shape (n_points, n_dims), or a clear error.

    Raises:
        ProjectionError: not 2-D, fewer than ``min_points`` rows, no columns, or NaN/inf values.
    """
    try:
        import torch

        if isinstance(X, torch.Tensor):
            X = X.detach().cpu().numpy()
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass
    try:
        arr = np.asarray(X)
    except Exception as exc:
        raise ProjectionError(f"{name} must be an array of shape (n_points, n_dims); "
                              f"got {type(X).__name__} ({exc})") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ProjectionError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ProjectionError(
            f"{name} must be 2-D (n_points, n_dims), got shape {tuple(arr.shape)}; "
            "flatten each sample to one vector first (e.g. X.reshape(len(X), -1))")
    n, d = arr.shape
    if d < 1:
        raise ProjectionError(f"{name} has {n} points but no feature columns")
    if n < min_points:
        raise ProjectionError(f"{name} has {n} point(s); this projection needs at least "
                              f"{min_points}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise ProjectionError(
            f"{name} has NaN or infinite values in {len(rows)} of {n} rows (first: row "
            f"{int(rows[0])}); drop or fix those samples (a diverged model gives NaN features)")
    return arr
