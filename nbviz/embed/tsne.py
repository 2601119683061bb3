"""A fast t-SNE for 2-D layouts, in numpy and scipy (no compiled extension of its own).

Pipeline: kNN (exact by blocked matrix products below 20k points, an approximate clustered
search from there; see :mod:`nbviz.embed.neighbours`) -> perplexity-calibrated affinities
(all rows bisected at once) -> gradient descent with momentum and per-coordinate gains, early
exaggeration first. Attractive forces use the sparse kNN affinities; repulsive forces come
from a grid and FFT convolution (see :mod:`nbviz.embed.repulsion`). Warm starts
(``init=previous_layout``) skip the exaggeration and take a short, gentle run so points
drift instead of jumping.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse
import torch
from scipy.sparse.csgraph import reverse_cuthill_mckee

from .affinity import edge_weights
from .errors import ProjectionCancelled, ProjectionError, check_points
from .neighbours import KNN_METHODS
from .pca import pca
from .repulsion import GridRepulsion

Callback = Callable[[int, int, np.ndarray], Any]
#: from this many points the optimisation runs in a cache-friendly order of the points
LOCALITY_MIN = 4096
#: ``progress(stage, fraction)``: "neighbours" (0-1 while the kNN search runs), then
#: "affinities" (1.0) once the input affinities are ready, before the first iteration
StageProgress = Callable[[str, float], Any]


class _Attraction:
    """Attractive forces ``sum_j P_ij q_ij (y_i - y_j)`` from fixed-shape directed kNN edges.

    The per-edge weights ``P_ij q_ij`` live in a sparse (n, n) matrix W built once; each
    call rewrites its values and applies W and W^T (each edge pulls both of its ends):
    ``force = (rowsum + colsum) * y - (W + W^T) y``, two sparse products over [x, y, 1].
    """

    def __init__(self, nbr: np.ndarray, weight: np.ndarray) -> None:
        n, k = nbr.shape
        self.n, self.nbr, self.weight = n, nbr, weight
        self.W = scipy.sparse.csr_matrix(
            (weight.ravel().astype(np.float32), nbr.ravel().astype(np.int32),
             np.arange(0, n * k + 1, k, dtype=np.int32)), shape=(n, n))
        self.values = self.W.data.reshape(n, k)  # a view: writing it updates W
        self.WT = self.W.T  # shares the values
        self.basis = np.ones((n, 3), dtype=np.float32)

    def __call__(self, Y: np.ndarray) -> np.ndarray:
        yx, yy = Y[:, 0], Y[:, 1]
        dx = yx[:, None] - yx.take(self.nbr)
        dy = yy[:, None] - yy.take(self.nbr)
        dx *= dx
        dy *= dy
        dx += dy
        dx += 1.0
        np.divide(self.weight, dx, out=self.values)  # P_ij q_ij per directed edge
        self.basis[:, :2] = Y
        both = self.W @ self.basis
        both += self.WT @ self.basis  # (W + W^T) [x, y, 1]
        force = self.basis[:, :2] * both[:, 2:3]
        force -= both[:, :2]
        return force.astype(np.float32, copy=False)


class TSNE:
    """t-SNE to two dimensions.

    Args:
        perplexity: effective number of neighbours (5-50 is typical); capped below n / 3.
        n_iter: optimisation iterations after early exaggeration (None: 250, or 60 for a
            warm start). The defaults match scikit-learn's 10-NN recall (1,000 iterations)
            on 10k digits; see bench/tsne.py.
        early_exaggeration_iter: iterations with attraction exaggerated (cold starts only).
        exaggeration: the early exaggeration factor.
        learning_rate: step size; None picks ``n / exaggeration`` per phase (Belkina et al.).
        seed: seeds the tiny jitter added to the initial layout.
        callback_every: how often ``callback`` sees the layout.
        neighbours: attraction edges kept per point (None: ``max(5, perplexity / 2)``).
            Affinities are calibrated to the perplexity over ``3 * perplexity`` exact
            neighbours; the nearest ``neighbours`` of them (about 70% of the affinity mass
            at perplexity 30) are kept, renormalised. That makes each iteration several
            times cheaper and, if anything, preserves near neighbourhoods better.
        knn: the neighbour search: "auto" (exact below 20k points, else "approximate"),
            "exact", "approximate" (:func:`nbviz.embed.neighbours.clustered_knn`) or
            "pynndescent" (optional extra; without it, "approximate" and a warning).

    After ``fit``, ``knn_used_`` names the search that ran.

    Example:
        >>> Y = TSNE(perplexity=30).fit(features)            # doctest: +SKIP
        >>> Y2 = TSNE().fit(new_features, init=Y)           # smooth refresh  # doctest: +SKIP
    """

    def __init__(self, perplexity: float = 30.0, n_iter: int | None = None,
                 early_exaggeration_iter: int = 125, exaggeration: float = 12.0,
                 learning_rate: float | None = None, seed: int = 0,
                 callback_every: int = 25, neighbours: int | None = None,
                 knn: str = "auto") -> None:
        if not np.isfinite(perplexity) or perplexity <= 0:
            raise ProjectionError(f"perplexity must be a positive number, got {perplexity!r}")
        if n_iter is not None and (not isinstance(n_iter, int) or n_iter < 1):
            raise ProjectionError(f"n_iter must be a whole number >= 1, got {n_iter!r}")
        if neighbours is not None and (not isinstance(neighbours, int) or neighbours < 1):
            raise ProjectionError(f"neighbours must be a whole number >= 1, got {neighbours!r}")
        if learning_rate is not None and not learning_rate > 0:
            raise ProjectionError(f"learning_rate must be > 0, got {learning_rate!r}")
        if knn not in KNN_METHODS:
            raise ProjectionError(f"knn must be one of {KNN_METHODS}, got {knn!r}")
        self.perplexity = float(perplexity)
        self.n_iter = n_iter
        self.early_exaggeration_iter = int(early_exaggeration_iter)
        self.exaggeration = float(exaggeration)
        self.learning_rate = learning_rate
        self.seed = seed
        self.callback_every = max(1, int(callback_every))
        self.neighbours = neighbours
        self.knn = knn
        self.knn_used_: str | None = None
        self.kl_divergence_: float | None = None

    # ---- public ---------------------------------------------------------------------------
    def fit(self, X: Any, init: Any = None, callback: Callback | None = None,
            cancel: threading.Event | None = None,
            progress: StageProgress | None = None) -> np.ndarray:
        """Lay ``X`` (n, d) out in 2-D; returns an (n, 2) float32 array.

        Args:
            X: the points; NaN/inf, fewer than 2 rows or a non-2-D array raise.
            init: a previous (n, 2) layout to refine (warm start: no exaggeration, short run).
            callback: called as ``callback(iteration, total, layout_copy)`` every
                ``callback_every`` iterations and at the end.
            cancel: checked every iteration; once set, :class:`ProjectionCancelled` is raised.
            progress: told about the stages before the first iteration (see
                :data:`StageProgress`), so a progress bar moves during the neighbour search.

        Raises:
            ProjectionError: bad ``X`` or ``init``.
            ProjectionCancelled: ``cancel`` was set.
        """
        X = check_points(X, min_points=2)
        n = X.shape[0]
        if n < 4:  # too few points for neighbourhoods; PCA is the honest answer
            _check_cancel(cancel)
            Y = pca(X) if n > 2 else _tiny_layout(X)
            if callback is not None:
                callback(1, 1, Y.copy())
            return Y
        warm = init is not None
        Y = self._initial_layout(X, init)
        _check_cancel(cancel)
        perplexity = min(self.perplexity, (n - 1) / 3.0)
        keep = self.neighbours or max(5, round(perplexity / 2))
        nbr, weight, self.knn_used_ = edge_weights(
            torch.from_numpy(X), perplexity, keep, cancel, method=self.knn, seed=self.seed,
            progress=None if progress is None else lambda f: progress("neighbours", f))
        if self.knn_used_.startswith("approximate ("):  # asked for pynndescent, not installed
            warnings.warn(f"t-SNE neighbour search: {self.knn_used_}", stacklevel=2)
        _check_cancel(cancel)
        if progress is not None:
            progress("affinities", 1.0)
        order = _locality_order(nbr) if n >= LOCALITY_MIN else None
        if order is not None:  # optimise in an order where neighbours sit close in memory
            rank = np.empty(n, dtype=np.int64)
            rank[order] = np.arange(n)
            nbr, weight, Y = rank[nbr[order]], weight[order], Y[order]
            callback = _unpermuted(callback, order)
        attraction = _Attraction(nbr.astype(np.int32), weight)
        if warm:
            phases = [(1.0, self.n_iter or 60, 0.8)]
        else:
            phases = [(self.exaggeration, self.early_exaggeration_iter, 0.5),
                      (1.0, self.n_iter or 250, 0.8)]
        Y = self._optimise(Y, attraction, phases, warm, callback, cancel)
        if order is not None:
            out = np.empty_like(Y)
            out[order] = Y
            Y = out
        return Y

    # ---- internals ------------------------------------------------------------------------
    def _initial_layout(self, X: np.ndarray, init: Any) -> np.ndarray:
        if init is None:
            Y = pca(X).astype(np.float64)
            std = Y[:, 0].std()
            Y = Y / (std if std > 0 else 1.0) * 1e-4
            rng = np.random.default_rng(self.seed)  # break ties between duplicate points
            Y += rng.standard_normal(Y.shape) * 1e-6
            return Y.astype(np.float32)
        Y = check_points(init, name="init")
        if Y.shape != (X.shape[0], 2):
            raise ProjectionError(f"init must be the previous layout of shape ({X.shape[0]}, 2), "
                                  f"got {Y.shape}; pass init=None for a fresh layout")
        return (Y - Y.mean(0)).astype(np.float32)

    def _optimise(self, Y: np.ndarray, attraction: _Attraction,
                  phases: list[tuple[float, int, float]], warm: bool,
                  callback: Callback | None, cancel: threading.Event | None) -> np.ndarray:
        n = Y.shape[0]
        repulsion = GridRepulsion()
        update = np.zeros_like(Y)
        gains = np.ones_like(Y)
        total = sum(p[1] for p in phases)
        it = 0
        for exaggeration, steps, momentum in phases:
            lr = self.learning_rate or max(n / exaggeration, 50.0)
            if warm:
                lr = lr / 4.0  # gentle: the layout is already good, keep its arrangement
            for _ in range(steps):
                _check_cancel(cancel)
                rep, z = repulsion(Y)
                grad = exaggeration * attraction(Y) - rep / np.float32(z)
                if not np.isfinite(grad).all():
                    raise ProjectionError(
                        "t-SNE diverged (non-finite gradient at iteration "
                        f"{it}); try a smaller learning_rate, or scale the features")
                same = (grad > 0) == (update > 0)
                gains = np.where(same, gains * 0.8, gains + 0.2)
                np.maximum(gains, 0.01, out=gains)
                update = momentum * update - lr * gains * grad
                Y = Y + update
                Y[:, 0] -= Y[:, 0].mean()  # (column-wise: much faster than Y.mean(0))
                Y[:, 1] -= Y[:, 1].mean()
                it += 1
                if callback is not None and (it % self.callback_every == 0 or it == total):
                    callback(it, total, Y.copy())
        return Y.astype(np.float32)


def _locality_order(nbr: np.ndarray) -> np.ndarray:
    """An order of the points in which kNN neighbours have nearby indices (reverse
    Cuthill-McKee on the kNN graph): the per-iteration gathers over the edges then hit the
    cache, which makes the attraction ~1.5x faster at 100k points (0.2 s to compute)."""
    n, k = nbr.shape
    graph = scipy.sparse.csr_matrix(
        (np.ones(n * k, dtype=np.float32), nbr.ravel(), np.arange(0, n * k + 1, k)),
        shape=(n, n))
    return np.asarray(reverse_cuthill_mckee(graph, symmetric_mode=False), dtype=np.int64)


def _unpermuted(callback: Callback | None, order: np.ndarray) -> Callback | None:
    """``callback`` seeing layouts in the caller's point order (the optimiser's is ``order``)."""
    if callback is None:
        return None

    def frame(iteration: int, total: int, Y: np.ndarray) -> Any:
        out = np.empty_like(Y)
        out[order] = Y
        return callback(iteration, total, out)

    return frame


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise ProjectionCancelled("t-SNE was cancelled")


def _tiny_layout(X: np.ndarray) -> np.ndarray:
    """Two points: place them apart on the x axis (nothing else to preserve)."""
    Y = np.zeros((X.shape[0], 2), dtype=np.float32)
    Y[:, 0] = np.linspace(-1.0, 1.0, X.shape[0])
    return Y
