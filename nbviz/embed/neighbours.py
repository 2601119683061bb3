"""k-nearest neighbours for t-SNE: exact for small inputs, clustered (approximate) for large ones.

* :func:`exact_knn`: blocked matrix products, O(n^2 d); the fastest below ~20k points.
* :func:`clustered_knn`: an inverted-file search in torch: k-means cuts the points into cells
  of ~128, and each cell's points are compared exactly with the points of the 40 cells whose
  centres are nearest to its own. O(n * 40 * 128 * d); no compilation, so the first call is
  as fast as the next. At 100k x 64 (augmented digits) it costs ~6 CPU-s against ~40 for
  the exact search and finds 97% of the true 15 nearest neighbours (the rest are replaced by
  the next nearest). Fewer probes were measured to cost layout quality at 100k: 12 cells of
  256 found 88% and lost 0.024 of layout 10-NN recall, 20 found 94% and lost 0.011;
  see bench/tsne.py.
* :func:`pynndescent_knn`: the pynndescent library (optional extra ``nbviz[tsne]``), for
  comparison; its numba code compiles on the first call of every process (tens of seconds).

Every search takes ``cancel`` (checked between blocks) and ``progress(fraction)``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import torch

from .errors import ProjectionCancelled, ProjectionError

Progress = Callable[[float], object]
KNN_METHODS = ("auto", "exact", "approximate", "pynndescent")
#: below this many points ``auto`` uses the exact search (it is as fast there, and exact)
EXACT_MAX = 20_000


def _cancelled(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise ProjectionCancelled("t-SNE was cancelled")


def _report(progress: Progress | None, fraction: float) -> None:
    if progress is not None:
        progress(min(max(fraction, 0.0), 1.0))


def exact_knn(X: torch.Tensor, k: int, block: int | None = None,
              cancel: threading.Event | None = None, progress: Progress | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact ``k`` nearest neighbours of every row of ``X`` (itself excluded).

    Squared Euclidean distances come from one matrix product per block of rows, so memory
    stays at ``block x n`` floats (by default about 128 MiB). ``cancel`` is checked and
    ``progress`` told between blocks.

    Returns:
        (indices int64 (n, k), squared distances float32 (n, k)), nearest first.
    """
    n = X.shape[0]
    k = min(k, n - 1)
    if block is None:
        block = int(max(16, min(2048, 2**25 // max(n, 1))))
    Xd = X.to(torch.float32)
    Xd = Xd - Xd.mean(0)  # same distances, less cancellation in |x|^2 + |y|^2 - 2 x.y
    sq = (Xd * Xd).sum(1)
    idx_out = torch.empty((n, k), dtype=torch.int64)
    dist_out = torch.empty((n, k), dtype=torch.float32)
    for start in range(0, n, block):
        _cancelled(cancel)
        stop = min(start + block, n)
        d = torch.addmm(sq[None, :], Xd[start:stop], Xd.T, beta=1.0, alpha=-2.0)
        d += sq[start:stop, None]
        rows = torch.arange(stop - start)
        d[rows, rows + start] = float("inf")  # never your own neighbour
        dist, idx = torch.topk(d, k, dim=1, largest=False, sorted=True)
        idx_out[start:stop] = idx
        dist_out[start:stop] = dist.clamp_min_(0.0)
        _report(progress, stop / n)
    return idx_out, dist_out


def _kmeans(X: torch.Tensor, cells: int, generator: torch.Generator, iterations: int = 6,
            sample_per_cell: int = 40) -> torch.Tensor:
    """Cell centres by Lloyd's k-means on a seeded sample (centres start at sample points)."""
    n = X.shape[0]
    sample = X[torch.randperm(n, generator=generator)[:min(n, sample_per_cell * cells)]]
    centres = sample[:cells].clone()
    for _ in range(iterations):
        d = torch.addmm((centres * centres).sum(1)[None, :], sample, centres.T, alpha=-2.0)
        owner = d.argmin(1)
        sums = torch.zeros_like(centres).index_add_(0, owner, sample)
        counts = torch.bincount(owner, minlength=cells)
        used = counts > 0  # an empty cell keeps its centre
        centres[used] = sums[used] / counts[used, None].to(sums.dtype)
    return centres


def _rows_knn(Xd: torch.Tensor, sq: torch.Tensor, rows: torch.Tensor, k: int
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact neighbours of the points ``rows`` among all rows of the centred ``Xd``."""
    idx_out = torch.empty((rows.numel(), k), dtype=torch.int64)
    dist_out = torch.empty((rows.numel(), k), dtype=torch.float32)
    block = int(max(16, min(2048, 2**25 // Xd.shape[0])))
    for start in range(0, rows.numel(), block):
        part = rows[start:start + block]
        d = torch.addmm(sq[None, :], Xd[part], Xd.T, alpha=-2.0)
        d += sq[part, None]
        d[torch.arange(part.numel()), part] = float("inf")
        dist, idx = torch.topk(d, k, dim=1, largest=False, sorted=True)
        idx_out[start:start + block], dist_out[start:start + block] = idx, dist.clamp_min_(0.0)
    return idx_out, dist_out


def clustered_knn(X: torch.Tensor, k: int, seed: int = 0, cell_size: int = 128, probe: int = 40,
                  cancel: threading.Event | None = None, progress: Progress | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Approximate ``k`` nearest neighbours by an inverted-file search (see the module doc).

    Args:
        cell_size: points per k-means cell, on average.
        probe: cells searched per cell (its own and the nearest others); more is slower and
            closer to exact.
        seed: seeds the k-means sample; the same seed gives the same neighbours.

    Returns:
        (indices int64 (n, k), squared distances float32 (n, k)), nearest first; where a
        search finds fewer than ``k`` candidates the exact search is used instead.
    """
    n = X.shape[0]
    k = min(k, n - 1)
    cells = max(1, n // cell_size)
    probe = min(probe, cells)
    if (n * probe) // cells < 2 * (k + 1):  # too few candidates per point: search them all
        return exact_knn(X, k, cancel=cancel, progress=progress)
    generator = torch.Generator().manual_seed(int(seed))
    Xd = X.to(torch.float32)
    Xd = Xd - Xd.mean(0)
    sq = (Xd * Xd).sum(1)
    centres = _kmeans(Xd, cells, generator)
    _cancelled(cancel)
    owner = torch.empty(n, dtype=torch.int64)
    csq = (centres * centres).sum(1)
    for start in range(0, n, 8192):
        stop = min(start + 8192, n)
        owner[start:stop] = torch.addmm(csq[None, :], Xd[start:stop], centres.T,
                                        alpha=-2.0).argmin(1)
    order = torch.argsort(owner, stable=True)
    counts = torch.bincount(owner, minlength=cells)
    starts = torch.cumsum(counts, 0) - counts
    centre_d = torch.addmm(csq[None, :], centres, centres.T, alpha=-2.0) + csq[:, None]
    centre_d.fill_diagonal_(-1.0)  # a cell always searches itself first
    nearest = torch.topk(centre_d, probe, dim=1, largest=False, sorted=True).indices
    members = [order[s:s + c] for s, c in zip(starts.tolist(), counts.tolist(), strict=True)]
    cands = [torch.cat([members[j] for j in row]) for row in nearest.tolist()]
    idx_out = torch.empty((n, k), dtype=torch.int64)
    dist_out = torch.empty((n, k), dtype=torch.float32)
    done = 0
    # cells of similar size are searched together, padded to one batched matrix product:
    # a few large operations instead of one small one per cell (threads help, overhead drops)
    by_size = sorted((c for c in range(cells) if counts[c] > 0), key=lambda c: int(counts[c]))
    while by_size:
        group: list[int] = []
        m_max = c_max = 0
        while by_size:
            c = by_size[0]
            m2, c2 = max(m_max, int(counts[c])), max(c_max, cands[c].numel())
            if group and (len(group) + 1) * m2 * c2 > 2**23:  # <= 32 MiB of distances
                break
            group.append(by_size.pop(0))
            m_max, c_max = m2, c2
        _cancelled(cancel)
        q_idx = torch.zeros((len(group), m_max), dtype=torch.int64)
        q_ok = torch.zeros((len(group), m_max), dtype=torch.bool)
        c_idx = torch.zeros((len(group), c_max), dtype=torch.int64)
        c_pad = torch.ones((len(group), c_max), dtype=torch.bool)
        for g, c in enumerate(group):
            q_idx[g, :counts[c]] = members[c]
            q_ok[g, :counts[c]] = True
            c_idx[g, :cands[c].numel()] = cands[c]
            c_pad[g, :cands[c].numel()] = False
        c_sq = sq[c_idx].masked_fill_(c_pad, float("inf"))
        d = torch.baddbmm(c_sq[:, None, :], Xd[q_idx], Xd[c_idx].transpose(1, 2), alpha=-2.0)
        d += sq[q_idx][:, :, None]
        # a cell's own points come first among its candidates: row r's own point is column r
        d.diagonal(dim1=1, dim2=2).fill_(float("inf"))
        dist, j = torch.topk(d, min(k, c_max - 1), dim=2, largest=False, sorted=True)
        found = torch.gather(c_idx, 1, j.flatten(1)).view_as(j)[q_ok]
        rows = q_idx[q_ok]
        if found.shape[1] < k or bool(torch.isinf(dist[q_ok][:, -1]).any()):
            # fewer than k candidates for some point (a lone cell far from the rest): these
            # rows against all points, exactly
            idx_out[rows], dist_out[rows] = _rows_knn(Xd, sq, rows, k)
        else:
            idx_out[rows] = found
            dist_out[rows] = dist[q_ok].clamp_min_(0.0)
        done += int(q_ok.sum())
        _report(progress, done / n)
    _report(progress, 1.0)
    return idx_out, dist_out


def pynndescent_available() -> bool:
    try:
        import pynndescent  # noqa: F401
    except ImportError:
        return False
    return True


def pynndescent_knn(X: torch.Tensor, k: int, seed: int = 0, cancel: threading.Event | None = None,
                    progress: Progress | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``k`` nearest neighbours by pynndescent (raises ImportError when it is missing).

    pynndescent reports no progress and cannot be interrupted: ``progress`` hears 0 and 1,
    ``cancel`` is checked before and after.
    """
    from pynndescent import NNDescent

    n = X.shape[0]
    k = min(k, n - 1)
    _cancelled(cancel)
    _report(progress, 0.0)
    data = np.ascontiguousarray(X.to(torch.float32).numpy())
    index = NNDescent(data, n_neighbors=k + 1, random_state=seed, n_jobs=torch.get_num_threads())
    idx, dist = index.neighbor_graph
    _cancelled(cancel)
    # the point itself comes first (distance 0) unless a duplicate ties with it: drop self
    idx = np.asarray(idx, dtype=np.int64)
    dist = np.asarray(dist, dtype=np.float32)
    self_col = idx == np.arange(n)[:, None]
    missing = ~self_col.any(1)
    self_col[missing, -1] = True  # no self found: drop the farthest instead
    keep = ~self_col
    idx = idx[keep].reshape(n, k)
    dist = dist[keep].reshape(n, k)
    _report(progress, 1.0)
    return torch.from_numpy(idx), torch.from_numpy(dist * dist)


def nearest_neighbours(X: torch.Tensor, k: int, method: str = "auto", seed: int = 0,
                       cancel: threading.Event | None = None, progress: Progress | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor, str]:
    """``k`` nearest neighbours by ``method`` ("auto": exact below :data:`EXACT_MAX` points,
    else approximate; "exact"; "approximate"; "pynndescent").

    Returns:
        (indices (n, k) int64, squared distances (n, k) float32, the method used, with a note
        when "pynndescent" was asked for but is not installed).
    """
    if method not in KNN_METHODS:
        raise ProjectionError(f"knn must be one of {KNN_METHODS}, got {method!r}")
    n = X.shape[0]
    if method == "auto":
        method = "exact" if n < EXACT_MAX else "approximate"
    if method == "pynndescent":
        if pynndescent_available():
            return (*pynndescent_knn(X, k, seed, cancel, progress), "pynndescent")
        method = "approximate (pynndescent is not installed: pip install 'nbviz[tsne]')"
    if method == "exact":
        return (*exact_knn(X, k, cancel=cancel, progress=progress), "exact")
    return (*clustered_knn(X, k, seed=seed, cancel=cancel, progress=progress), method)
