"""PCA to two dimensions, instantly: exact for narrow features, randomized for wide ones."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import check_points

#: up to this many dimensions the d x d covariance is decomposed exactly (milliseconds);
#: wider features (a ResNet's 512, a VGG's 4096) use randomized subspace iteration, whose
#: cost grows with n x d instead of d**3 (4096-d: about 1 s instead of 40 s here)
EXACT_DIMS = 256


def top_axes(Xc: np.ndarray, k: int, iterations: int = 6, oversample: int = 10,
             seed: int = 0) -> np.ndarray:
    """The top ``k`` principal axes (d, k) of centred ``Xc`` (n, d), by subspace iteration.

    Halko, Martinsson & Tropp's randomized range finder with ``iterations`` power steps
    (re-orthonormalised each time); seeded, so the result is deterministic.
    """
    n, d = Xc.shape
    width = min(d, n, k + oversample)
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(Xc @ rng.standard_normal((d, width)))[0]
    for _ in range(iterations):
        Q = np.linalg.qr(Xc @ (Xc.T @ Q))[0]
    _, _, vt = np.linalg.svd(Q.T @ Xc, full_matrices=False)
    return np.ascontiguousarray(vt[:k].T)


def pca(X: Any, n_components: int = 2, reference: Any = None) -> np.ndarray:
    """Project ``X`` (n, d) on its top principal axes; returns (n, n_components) float32.

    Up to :data:`EXACT_DIMS` dimensions it costs one pass to build the covariance (float64)
    and an eigen-decomposition of a d x d matrix, so 10k x 64 takes milliseconds; wider
    features use :func:`top_axes` (randomized, deterministic, same axes to ~1e-9). Signs are fixed so each axis has a positive
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
    if d <= EXACT_DIMS:
        vals, vecs = np.linalg.eigh(Xc.T @ Xc)
        axes = vecs[:, np.argsort(vals)[::-1][:n_components]]
    else:
        axes = top_axes(Xc, n_components)
    out = np.zeros((n, n_components), dtype=np.float64)
    proj = Xc @ axes
    ref = None if reference is None else np.asarray(reference, dtype=np.float64)
    for j in range(proj.shape[1]):
        col = proj[:, j]
        if ref is not None and ref.shape[0] == n and j < ref.shape[1]:
            flip = float(col @ (ref[:, j] - ref[:, j].mean())) < 0
        else:
            flip = float((col ** 3).sum()) < 0
        out[:, j] = -col if flip else col
    return out.astype(np.float32)
