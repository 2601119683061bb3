"""Perplexity-calibrated t-SNE input affinities over k-nearest neighbours."""

from __future__ import annotations

import threading

import numpy as np
import torch

from .neighbours import Progress, exact_knn, nearest_neighbours


def knn(X: torch.Tensor, k: int, block: int | None = None,
        cancel: threading.Event | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact ``k`` nearest neighbours of every row of ``X`` (see :func:`exact_knn`)."""
    return exact_knn(X, k, block=block, cancel=cancel)


def conditional_p(sq_dist: np.ndarray, perplexity: float, tol: float = 1e-4) -> np.ndarray:
    """Row-wise Gaussian affinities p(j|i) whose entropy matches ``log(perplexity)``.

    All rows are solved at once by bisection on ``log(beta)``, ``beta = 1/(2 sigma^2)``,
    with each row's distances shifted and scaled to [0, 1] first (neither changes the
    normalised affinities up to the scale of beta), so far-apart data and near-duplicates
    converge alike.
    """
    d = np.asarray(sq_dist, dtype=np.float32)
    d = d - d[:, :1]
    d /= np.maximum(d[:, -1:], 1e-30)
    target = np.float32(np.log(perplexity))
    lo = np.full((d.shape[0], 1), -30.0, dtype=np.float32)
    hi = np.full((d.shape[0], 1), 30.0, dtype=np.float32)
    while float((hi - lo).max()) > tol:
        mid = 0.5 * (lo + hi)
        beta = np.exp(mid)
        w = np.exp(-beta * d)
        s = w.sum(1, keepdims=True)
        entropy = np.log(s) + beta * np.einsum("ij,ij->i", w, d)[:, None] / s
        too_flat = entropy > target  # entropy too high -> sharpen (raise beta)
        lo = np.where(too_flat, mid, lo)
        hi = np.where(too_flat, hi, mid)
    w = np.exp(-np.exp(0.5 * (lo + hi)) * d)
    return (w / w.sum(1, keepdims=True)).astype(np.float32)


def edge_weights(X: torch.Tensor, perplexity: float, keep: int | None = None,
                 cancel: threading.Event | None = None, method: str = "exact", seed: int = 0,
                 progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """Directed kNN edges with weights that sum to the symmetric t-SNE P.

    For each point i and neighbour j the weight is ``p(j|i) / (2 n)``; applying every directed
    edge to both of its ends gives ``P_ij = (p(j|i) + p(i|j)) / (2 n)`` without building the
    symmetric matrix. ``method`` picks the neighbour search (see
    :func:`nbviz.embed.neighbours.nearest_neighbours`), which ``progress`` follows.

    Returns:
        (neighbour indices (n, k) int64, weights (n, k) float32, the search method used)
    """
    n = X.shape[0]
    k = int(min(n - 1, max(1, round(3 * perplexity))))
    idx, dist, used = nearest_neighbours(X, k, method, seed=seed, cancel=cancel,
                                         progress=progress)
    p = conditional_p(dist.numpy(), perplexity)
    if keep is not None and keep < k:  # the nearest ``keep`` carry most of the mass
        idx, p = idx[:, :keep], p[:, :keep]
        p = p / p.sum(1, keepdims=True)
    return idx.numpy(), p / np.float32(2.0 * n), used
