"""Repulsive t-SNE forces in O(N + G^2 log G) by interpolation on a grid and FFT convolution.

The idea is FIt-SNE's (Linderman et al., 2019): spread the points onto a regular grid,
convolve with the kernel there by FFT, and interpolate the result back at the points. Here
the grid is uniform with local Lagrange interpolation, and only one
field is convolved: the point density. With ``K(d) = 1 / (1 + d^2)``

* the normalisation ``Z = sum_{i != j} K(y_i - y_j)`` is the grid inner product of the density
  with its own convolution, read straight from the spectrum (Parseval), and
* the repulsion ``sum_j K(y_i - y_j)^2 (y_i - y_j)`` equals ``-1/2`` times the gradient of the
  potential ``sum_j K(y_i - y_j)``, so it is the density convolved with the sampled kernel
  derivatives ``-1/2 dK/dx`` and ``-1/2 dK/dy`` (antisymmetric, so a point exerts exactly no
  force on itself).

That is one forward and two inverse real FFTs per iteration. Interpolation is quadratic
(3 x 3 nodes per point) by default, or cubic (4 x 4).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft

#: grid spacing (embedding units) the grid aims for; the kernel varies on a scale of 1
TARGET_SPACING = 0.5
MIN_NODES, MAX_NODES = 32, 240


def _fft_size(n: int) -> int:
    """The smallest size >= n whose only prime factors are 2, 3 and 5 (fast FFT sizes)."""
    return int(scipy.fft.next_fast_len(n, real=True))


def _lagrange_weights(t: np.ndarray, points: int) -> np.ndarray:
    """Lagrange weights of ``points`` consecutive nodes for offsets ``t`` from the first one.

    ``t`` lies between the two middle nodes (in [1, 2) for 4 nodes, [0.5, 1.5) for 3), where
    the interpolant is most accurate.
    """
    if points == 3:  # the default: closed forms, a third of the array operations
        tm1 = t - np.float32(1.0)
        return np.stack((np.float32(0.5) * tm1 * (t - np.float32(2.0)),
                         t * (np.float32(2.0) - t), np.float32(0.5) * t * tm1), axis=-1)
    out = np.ones(t.shape + (points,), dtype=t.dtype)
    for j in range(points):
        for m in range(points):
            if m != j:
                out[..., j] *= (t - m) / np.float32(j - m)
    return out


class GridRepulsion:
    """Approximate repulsive forces and the normaliser Z for a 2-D embedding.

    Args:
        spacing: the grid spacing aimed for, in embedding units.
        max_nodes: the most grid nodes per side (bounds the cost for very wide layouts).
        workers: threads scipy's FFT may use.
    """

    def __init__(self, spacing: float = TARGET_SPACING, max_nodes: int = MAX_NODES,
                 workers: int = 1, points: int = 3) -> None:
        if points not in (3, 4):
            raise ValueError(f"points must be 3 (quadratic) or 4 (cubic), got {points!r}")
        self.points = points
        self.spacing = spacing
        self.max_nodes = max_nodes
        self.workers = workers
        self._kernel_key: tuple[int, float] | None = None
        self._kernels: tuple[np.ndarray, np.ndarray] | None = None

    def _spectra(self, size: int, h: float) -> tuple[np.ndarray, np.ndarray]:
        """FFTs of K and of (-K'_x/2, -K'_y/2) sampled at the circular offsets of the grid."""
        key = (size, h)
        if self._kernel_key != key or self._kernels is None:
            off = np.arange(size, dtype=np.float64)
            off = np.where(off <= size // 2, off, off - size) * h
            dx, dy = off[:, None], off[None, :]
            k = 1.0 / (1.0 + dx * dx + dy * dy)
            spectra = scipy.fft.rfft2(np.stack((k, k * k * dx, k * k * dy)).astype(np.float32),
                                      workers=self.workers)
            self._kernels = (spectra[0].real.copy(), spectra[1:].copy())
            self._kernel_key = key
        return self._kernels

    def __call__(self, Y: np.ndarray) -> tuple[np.ndarray, float]:
        """(sum_j q_ij^2 (y_i - y_j) per point (n, 2), Z) where q_ij = 1 / (1 + |y_i - y_j|^2)."""
        n = Y.shape[0]
        # column by column: numpy's axis-0 reductions of an (n, 2) array are ~30x slower
        lo = np.array([Y[:, 0].min(), Y[:, 1].min()], dtype=np.float32)
        span = float(max(Y[:, 0].max() - lo[0], Y[:, 1].max() - lo[1]))
        # h comes from a ladder of 8 steps per doubling, so the kernel spectra (cached) are
        # recomputed only when the layout has grown by a step, not every iteration
        h = max(span / (self.max_nodes - 5), min(self.spacing, span / (MIN_NODES - 5)), 1e-12)
        h = float(2.0 ** (math.ceil(math.log2(h) * 8.0) / 8.0))
        nodes = int(math.ceil(span / h)) + 5  # 2 nodes of margin each side for the stencil
        nodes = -(-nodes // 16) * 16  # buckets of 16, again so the cache holds
        size = _fft_size(2 * nodes)
        p = self.points
        u = (Y - lo) * np.float32(1.0 / h) + np.float32(2.0)  # grid coordinates, 2 nodes margin
        start = np.floor(u - np.float32(0.5 * (p - 1))).astype(np.int32)  # first stencil node
        w = _lagrange_weights((u - start).astype(np.float32), p)  # (n, 2, p)
        nodes_p = np.arange(p, dtype=np.int32)
        rows = (start[:, 0, None] + nodes_p) * np.int32(size)
        flat = (rows[:, :, None] + (start[:, 1, None] + nodes_p)[:, None, :]).reshape(n, p * p)
        wt = (w[:, 0, :, None] * w[:, 1, None, :]).reshape(n, p * p)
        grid = np.bincount(flat.ravel(), wt.ravel(), minlength=size * size)
        spec = scipy.fft.rfft2(grid.reshape(size, size).astype(np.float32), workers=self.workers)
        k_hat, grad_hat = self._spectra(size, h)
        # Z = <rho, K * rho> by Parseval over the real-FFT half spectrum
        power = spec.real * spec.real + spec.imag * spec.imag
        power[:, 1:(size + 1) // 2] *= 2.0
        z = float(np.vdot(power, k_hat)) / (size * size) - n
        fields = scipy.fft.irfft2(spec[None] * grad_hat, s=(size, size), workers=self.workers)
        fields = fields.reshape(2, -1)
        force = np.empty((n, 2), dtype=np.float32)
        force[:, 0] = np.einsum("ij,ij->i", fields[0].take(flat), wt)
        force[:, 1] = np.einsum("ij,ij->i", fields[1].take(flat), wt)
        return force, max(z, 1e-12)


def exact_repulsion(Y: np.ndarray) -> tuple[np.ndarray, float]:
    """The same quantities computed exactly in O(n^2) (for tests and small inputs)."""
    Yd = np.asarray(Y, dtype=np.float64)
    diff = Yd[:, None, :] - Yd[None, :, :]
    q = 1.0 / (1.0 + np.square(diff).sum(-1))
    np.fill_diagonal(q, 0.0)
    force = ((q * q)[..., None] * diff).sum(1)
    return force.astype(np.float32), float(q.sum())
