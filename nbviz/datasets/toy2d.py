"""Two-dimensional toy datasets for teaching (circles, xor, gaussians, spiral, moons).

Every set is drawn with numpy from one seeded generator, so the same arguments always give
bit-identical tensors: float32 points of shape N x 2 (roughly within [-6, 6]) and int64
labels in {0, 1}, split into training and validation parts like the other datasets.

Example:
    >>> data = nbviz.datasets.toy2d("spiral", noise=0.2)
    >>> train_loader, val_loader = data.loaders(batch_size=16)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .split import DataSplit, split_tensors

Array = np.ndarray
TOY2D_KINDS: tuple[str, ...] = ("circles", "xor", "gaussians", "spiral", "moons")
MAX_POINTS = 100_000
MAX_NOISE = 5.0


def _circles(rng: np.random.Generator, n: int, noise: float) -> tuple[Array, Array]:
    labels = np.arange(n) % 2
    radius = np.where(labels == 0, rng.uniform(0.0, 2.0, n), rng.uniform(3.5, 5.0, n))
    angle = rng.uniform(0.0, 2 * np.pi, n)
    points = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)
    return points + rng.normal(0.0, noise * 5.0 / 3.0, (n, 2)), labels


def _xor(rng: np.random.Generator, n: int, noise: float) -> tuple[Array, Array]:
    labels = np.arange(n) % 2
    magnitude = rng.uniform(0.3, 5.3, (n, 2))  # a small gap around the axes, as in the playground
    sign_x = rng.choice([-1.0, 1.0], n)
    sign_y = np.where(labels == 0, sign_x, -sign_x)  # class 1: x and y of opposite signs
    points = magnitude * np.stack([sign_x, sign_y], 1)
    return points + rng.normal(0.0, noise * 5.0 / 3.0, (n, 2)), labels


def _gaussians(rng: np.random.Generator, n: int, noise: float) -> tuple[Array, Array]:
    labels = np.arange(n) % 2
    centres = np.where(labels[:, None] == 0, 2.0, -2.0)
    spread = 0.5 + noise * 4.0
    return centres + rng.normal(0.0, spread, (n, 2)), labels


def _spiral(rng: np.random.Generator, n: int, noise: float) -> tuple[Array, Array]:
    labels = np.arange(n) % 2
    t = rng.uniform(0.0, 1.0, n)
    radius = 5.0 * t
    angle = 1.75 * t * 2 * np.pi + np.pi * labels
    points = np.stack([radius * np.sin(angle), radius * np.cos(angle)], 1)
    return points + rng.normal(0.0, noise * 1.5, (n, 2)), labels


def _moons(rng: np.random.Generator, n: int, noise: float) -> tuple[Array, Array]:
    labels = np.arange(n) % 2
    angle = rng.uniform(0.0, np.pi, n)
    upper = np.stack([np.cos(angle), np.sin(angle)], 1)
    lower = np.stack([1.0 - np.cos(angle), 0.5 - np.sin(angle)], 1)
    points = np.where(labels[:, None] == 0, upper, lower) - np.array([0.5, 0.25])
    return points * 3.0 + rng.normal(0.0, noise * 1.5, (n, 2)), labels


_DRAW: dict[str, Callable[[np.random.Generator, int, float], tuple[Array, Array]]] = {
    "circles": _circles, "xor": _xor, "gaussians": _gaussians, "spiral": _spiral, "moons": _moons}


def toy2d_points(kind: str, n: int = 500, noise: float = 0.1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """All ``n`` points (float32, N x 2) and labels (int64) of one toy set, unsplit.

    Raises:
        ValueError: an unknown kind, n outside 4..100000, or noise outside 0..5.
    """
    if kind not in _DRAW:
        raise ValueError(f"unknown toy2d kind {kind!r}; use one of: {', '.join(TOY2D_KINDS)}")
    if isinstance(n, bool) or not isinstance(n, int) or not 4 <= n <= MAX_POINTS:
        raise ValueError(f"n must be a whole number from 4 to {MAX_POINTS}, got {n!r}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 <= noise <= MAX_NOISE:
        raise ValueError(f"noise must be a number from 0 to {MAX_NOISE}, got {noise!r}")
    rng = np.random.default_rng(seed)
    points, labels = _DRAW[kind](rng, n, float(noise))
    return torch.from_numpy(points.astype(np.float32)), torch.from_numpy(labels.astype(np.int64))


def toy2d(kind: str, n: int = 500, noise: float = 0.1, seed: int = 0,
          val_fraction: float = 0.5) -> DataSplit:
    """A seeded two-class 2-D dataset split into training and validation points.

    Args:
        kind: one of ``circles``, ``xor``, ``gaussians``, ``spiral``, ``moons``.
        n: number of points in all (4..100000).
        noise: 0 (clean) .. 5; 0.1 to 0.5 is the useful range.
        seed: draws the points and the split.
        val_fraction: share of the points held out for validation (0 < f < 1).

    Raises:
        ValueError: an unknown kind or an argument out of range (the message says which).
    """
    points, labels = toy2d_points(kind, n, noise, seed)
    return split_tensors(points, labels, val_fraction, seed, ["0", "1"], f"toy2d-{kind}")


__all__ = ["TOY2D_KINDS", "toy2d", "toy2d_points"]
