"""PCA to two dimensions, instantly: an exact eigen-decomposition of the d x d covariance."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import check_points


def pca(X: Any, n_components: int = 2, reference: Any = None) -> np.ndarray:
    """Project ``X`` (n, d) on its top principal axes; returns (n, n_components) float32.

    Costs one pass to build the covariance (float64) and an eigen-decomposition of a d x d
    matrix, so 10k x 64 takes milliseconds. Signs are fixed so each axis has a positive
    skew (deterministic), or, when ``reference`` (a previous layout of the same points) is
    given, so the axes agree with it (a refresh does not flip the picture). Dimensions
    beyond d are zero.

    Raises:
        ProjectionError: bad ``X`` (see :func:`nbviz.embed.errors.check_points`).
    """
    X = check_points(X, min_points=1)
    n, d = X.shape
    if not isinstance(n_components, int) or n_components < 1:
        raise ValueError(f"n_components must be a whole number >= 1, got {n_components!r}")
    Xc = X.astype(np.float64)
    Xc -= Xc.mean(0)
    cov = Xc.T @ Xc
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1][:n_components]
    out = np.zeros((n, n_components), dtype=np.float64)
    proj = Xc @ vecs[:, order]
    ref = None if reference is None else np.asarray(reference, dtype=np.float64)
    for j in range(proj.shape[1]):
        col = proj[:, j]
        if ref is not None and ref.shape[0] == n and j < ref.shape[1]:
            flip = float(col @ (ref[:, j] - ref[:, j].mean())) < 0
        else:
            flip = float((col ** 3).sum()) < 0
        out[:, j] = -col if flip else col
    return out.astype(np.float32)
