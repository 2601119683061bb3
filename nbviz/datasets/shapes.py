"""Procedurally drawn coloured shapes (10 classes, 3 x size x size): embedded, no download.

Every image is one shape drawn with anti-aliased edges at a random position, scale and
moderate rotation (|angle| <= 15 degrees, so a square never turns into a diamond), in a random
colour that contrasts with a random background (gradient, stripes or soft blobs) plus pixel
noise; about a third of the images carry a clutter bar behind or in front of the shape (partial
occlusion). The whole set is drawn at once with vectorised numpy from one seeded generator,
so the same arguments always give bit-identical tensors.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .split import DataSplit, split_tensors

SHAPE_CLASSES: list[str] = ["circle", "square", "triangle", "star", "cross",
                            "ring", "diamond", "hexagon", "crescent", "heart"]
MAX_ROTATION_DEG = 15.0
CLUTTER_PROBABILITY = 0.35
_CHUNK = 512

Array = np.ndarray


def _polygon(u: Array, v: Array, sides: int, apothem: float, vertex_deg: float) -> Array:
    """Signed distance (shape units) to a regular polygon with a vertex at ``vertex_deg``."""
    sector = 2 * np.pi / sides
    theta = np.arctan2(v, u) - np.deg2rad(vertex_deg)
    phi = np.mod(theta, sector) - sector / 2
    return np.hypot(u, v) * np.cos(phi) - apothem


def _circle(u: Array, v: Array) -> Array:
    return np.hypot(u, v) - 0.85


def _square(u: Array, v: Array) -> Array:
    return np.maximum(np.abs(u), np.abs(v)) - 0.7


def _triangle(u: Array, v: Array) -> Array:
    return _polygon(u, v + 0.2, 3, 0.55, 90.0)


def _star(u: Array, v: Array) -> Array:
    # Radial star: radius 1 at the five points, 0.42 in the valleys; 0.6 rescales to ~pixels.
    t = np.abs(np.mod((np.arctan2(v, u) - np.pi / 2) * 5 / (2 * np.pi) + 0.5, 1.0) - 0.5) * 2
    return (np.hypot(u, v) - (1.0 - 0.58 * t)) * 0.6


def _cross(u: Array, v: Array) -> Array:
    au, av = np.abs(u), np.abs(v)
    return np.minimum(np.maximum(au - 0.28, av - 0.95), np.maximum(au - 0.95, av - 0.28))


def _ring(u: Array, v: Array) -> Array:
    return np.abs(np.hypot(u, v) - 0.72) - 0.2


def _diamond(u: Array, v: Array) -> Array:
    w, h = 0.62, 1.0  # a tall rhombus: distinct from a square at any allowed rotation
    return (np.abs(u) / w + np.abs(v) / h - 1.0) * (w * h / np.hypot(w, h))


def _hexagon(u: Array, v: Array) -> Array:
    return _polygon(u, v, 6, 0.8, 0.0)


def _crescent(u: Array, v: Array) -> Array:
    return np.maximum(np.hypot(u, v) - 0.9, 0.72 - np.hypot(u - 0.45, v - 0.2))


def _heart(u: Array, v: Array) -> Array:
    lobes = np.minimum(np.hypot(u - 0.42, v - 0.3), np.hypot(u + 0.42, v - 0.3)) - 0.46
    # Downward triangle with sides through (+-0.86, 0.22) and the tip (0, -0.95), topped at 0.3.
    side = (1.17 * np.abs(u) - 0.86 * (v + 0.95)) / np.hypot(1.17, 0.86)
    tip = np.maximum(side, v - 0.3)
    return np.minimum(lobes, tip)


_DRAW: list[Callable[[Array, Array], Array]] = [
    _circle, _square, _triangle, _star, _cross, _ring, _diamond, _hexagon, _crescent, _heart]


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number between {low} and {high}, got {value!r}")
    return int(value)


def _backgrounds(rng: np.random.Generator, n: int, size: int, ys: Array, xs: Array) -> Array:
    """Blend weights t in [0, 1], shape (n, size, size): a gradient, stripes or soft blobs."""
    kind = rng.integers(0, 3, n)
    angle = rng.uniform(0, 2 * np.pi, n).astype(np.float32)[:, None, None]
    along = (xs - size / 2) * np.cos(angle) + (ys - size / 2) * np.sin(angle)  # (n, S, S)
    t = np.empty((n, size, size), np.float32)
    grad = kind == 0
    t[grad] = np.clip(0.5 + along[grad] / size, 0, 1)
    stripes = kind == 1
    freq = rng.uniform(1.5, 6.0, n).astype(np.float32)[:, None, None]
    phase = rng.uniform(0, 2 * np.pi, n).astype(np.float32)[:, None, None]
    t[stripes] = (0.5 + 0.5 * np.sin(2 * np.pi * freq * along / size + phase))[stripes]
    blobs = np.flatnonzero(kind == 2)
    acc = np.zeros((len(blobs), size, size), np.float32)
    for _ in range(3):
        cy, cx = (rng.uniform(0, size, (2, len(blobs))).astype(np.float32)[:, :, None, None])
        sigma = rng.uniform(0.1, 0.3, len(blobs)).astype(np.float32)[:, None, None] * size
        acc += np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * sigma**2))
    t[blobs] = np.clip(acc, 0, 1)
    return t


def _bar_alpha(rng: np.random.Generator, n: int, size: int, ys: Array, xs: Array) -> Array:
    """Anti-aliased thin bars (n, size, size) at random positions and angles."""
    cy, cx = rng.uniform(0, size, (2, n)).astype(np.float32)[:, :, None, None]
    angle = rng.uniform(0, np.pi, n).astype(np.float32)[:, None, None]
    half_len = rng.uniform(0.15, 0.3, n).astype(np.float32)[:, None, None] * size
    half_w = rng.uniform(0.6, 1.5, n).astype(np.float32)[:, None, None]
    along = (xs - cx) * np.cos(angle) + (ys - cy) * np.sin(angle)
    across = -(xs - cx) * np.sin(angle) + (ys - cy) * np.cos(angle)
    dist = np.maximum(np.abs(across) - half_w, np.abs(along) - half_len)
    return np.clip(0.5 - dist, 0, 1)


def _contrasting(rng: np.random.Generator, background: Array) -> Array:
    """Random colours (n, 3), pushed away from each background mean where too close."""
    colour = rng.uniform(0, 1, background.shape).astype(np.float32)
    close = np.linalg.norm(colour - background, axis=1) < 0.6
    pushed = np.where(background > 0.5, colour * 0.35, 0.65 + 0.35 * colour)
    return np.where(close[:, None], pushed, colour).astype(np.float32)


def _over(images: Array, idx: Array | slice, alpha: Array, colour: Array) -> None:
    """Paint ``colour`` (k, 3) with coverage ``alpha`` (k, S, S) over ``images[idx]`` in place."""
    part = images[idx]
    part -= alpha[:, None] * (part - colour[:, :, None, None])
    images[idx] = part


def draw_shapes(labels: Array, size: int, rng: np.random.Generator) -> Array:
    """Draw one image per label: float32 array (n, 3, size, size) in [0, 1]."""
    n = len(labels)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    ys, xs = ys[None], xs[None]

    low = rng.uniform(0, 1, (n, 3)).astype(np.float32)
    high = np.clip(low + rng.normal(0, 0.15, (n, 3)), 0, 1).astype(np.float32)
    t = _backgrounds(rng, n, size, ys, xs)[:, None]
    images = low[:, :, None, None] + (high - low)[:, :, None, None] * t
    fg = _contrasting(rng, (low + high) / 2)

    cluttered = np.flatnonzero(rng.uniform(0, 1, n) < CLUTTER_PROBABILITY)
    in_front = rng.uniform(0, 1, len(cluttered)) < 0.5
    bar_colour = rng.uniform(0, 1, (len(cluttered), 3)).astype(np.float32)
    bar_alpha = _bar_alpha(rng, len(cluttered), size, ys, xs)
    back = cluttered[~in_front]
    _over(images, back, bar_alpha[~in_front], bar_colour[~in_front])

    radius = (rng.uniform(0.24, 0.38, n) * size).astype(np.float32)
    margin = radius * 0.8
    cx = rng.uniform(margin, size - margin).astype(np.float32)
    cy = rng.uniform(margin, size - margin).astype(np.float32)
    rot = np.deg2rad(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG, n)).astype(np.float32)
    aspect = rng.uniform(0.9, 1.1, n).astype(np.float32)
    alpha = np.empty((n, size, size), np.float32)
    for cls, draw in enumerate(_DRAW):
        idx = np.flatnonzero(labels == cls)
        if len(idx) == 0:
            continue
        r, c, s = radius[idx, None, None], np.cos(rot[idx])[:, None, None], np.sin(rot[idx])[:, None, None]
        dx, dy = xs - cx[idx, None, None], ys - cy[idx, None, None]
        u = (dx * c + dy * s) / (r * aspect[idx, None, None])
        v = -(-dx * s + dy * c) / r  # v points up on screen
        alpha[idx] = np.clip(0.5 - draw(u, v) * r, 0, 1)
    _over(images, slice(None), alpha, fg)
    _over(images, cluttered[in_front], bar_alpha[in_front], bar_colour[in_front])
    sigma = rng.uniform(0.0, 0.06, n).astype(np.float32)[:, None, None, None]
    images += sigma * rng.standard_normal(images.shape, dtype=np.float32)
    return np.clip(images, 0, 1, out=images)


def shapes(n: int = 6000, size: int = 32, val_fraction: float = 0.2, seed: int = 0) -> DataSplit:
    """``n`` coloured-shape images as 3 x size x size float tensors in [0, 1], split train/val.

    The 10 classes (``DataSplit.classes``) are balanced: each appears ``n // 10`` or
    ``n // 10 + 1`` times. Same arguments give identical tensors.

    Args:
        n: number of images, 10 to 1,000,000.
        size: image side in pixels, 16 to 256 (32 matches ``nbviz.models.ShapesCNN``).
        val_fraction: share of the images held out for validation, in (0, 1).
        seed: seeds the drawing and the split.

    Raises:
        ValueError: for an argument out of range.
    """
    n = _check_int("n", n, 10, 1_000_000)
    size = _check_int("size", size, 16, 256)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0, got {seed!r}")
    if not isinstance(val_fraction, (int, float)) or not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be between 0 and 1 (exclusive), got {val_fraction!r}")
    if round(n * val_fraction) >= n:
        raise ValueError(f"val_fraction={val_fraction} leaves no training images out of n={n}")
    rng = np.random.default_rng(int(seed))
    labels = rng.permutation(np.arange(n) % len(SHAPE_CLASSES))
    pixels = np.empty((n, 3, size, size), np.float32)
    for start in range(0, n, _CHUNK):  # chunks keep temporaries in cache: ~2x faster than one go
        pixels[start:start + _CHUNK] = draw_shapes(labels[start:start + _CHUNK], size, rng)
    images = torch.from_numpy(pixels)
    return split_tensors(images, torch.from_numpy(labels).long(), float(val_fraction), int(seed),
                         list(SHAPE_CLASSES), "shapes")
