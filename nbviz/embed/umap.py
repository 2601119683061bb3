"""UMAP layouts through umap-learn, an optional extra (``pip install 'nbviz[umap]'``)."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from .errors import ProjectionCancelled, ProjectionError, check_points


def umap_available() -> bool:
    try:
        import umap  # noqa: F401
    except ImportError:
        return False
    return True


def umap_layout(X: Any, init: Any = None, n_neighbors: int = 15, min_dist: float = 0.1,
                seed: int | None = 0, callback: Any = None,
                cancel: threading.Event | None = None) -> np.ndarray:
    """A 2-D UMAP layout of ``X`` (n, d) as (n, 2) float32.

    ``init`` (a previous layout) seeds the optimisation so a refresh stays recognisable.
    umap-learn reports no progress, so ``callback(1, 1, layout)`` is called once at the end
    and ``cancel`` is honoured before and after the fit only.

    Raises:
        ProjectionError: umap-learn is not installed, or bad input.
        ProjectionCancelled: ``cancel`` was set.
    """
    try:
        import umap
    except ImportError:
        raise ProjectionError("UMAP needs the optional package umap-learn: "
                              "pip install 'nbviz[umap]' (or pip install umap-learn); "
                              "method='tsne' or 'pca' work without it") from None
    X = check_points(X, min_points=3)
    if cancel is not None and cancel.is_set():
        raise ProjectionCancelled("UMAP was cancelled")
    start: Any = "spectral"
    if init is not None:
        start = check_points(init, name="init").astype(np.float64)
        if start.shape != (X.shape[0], 2):
            raise ProjectionError(f"init must be the previous layout of shape "
                                  f"({X.shape[0]}, 2), got {start.shape}")
    reducer = umap.UMAP(n_components=2, n_neighbors=min(n_neighbors, X.shape[0] - 1),
                        min_dist=min_dist, init=start, random_state=seed)
    Y = np.asarray(reducer.fit_transform(X), dtype=np.float32)
    if cancel is not None and cancel.is_set():
        raise ProjectionCancelled("UMAP was cancelled")
    if callback is not None:
        callback(1, 1, Y.copy())
    return Y
