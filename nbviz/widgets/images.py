"""One conversion from tensors to pictures, used by every view that shows images.

:func:`as_images` decides whether a batch of samples can be drawn as images at all (and how:
channels first, flat squares, 2-d planes), :func:`to_uint8` maps values to 0..255, and
:func:`image_tiles` does both, giving the channels-last uint8 tiles the image grid and the
scatter's thumbnails take.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def as_images(batch: torch.Tensor) -> torch.Tensor | None:
    """``batch`` as float images N x C x H x W with C 1 or 3, or None if it is not images.

    Accepts N x C x H x W, N x H x W, and flat N x D floating samples whose D is a square
    number (MNIST as vectors). Integer flat samples (token ids) are not images, whatever
    their length.
    """
    x = batch.detach()
    if x.dim() == 2:
        if x.is_floating_point() and x.shape[1] > 1 and math.isqrt(x.shape[1]) ** 2 == x.shape[1]:
            side = math.isqrt(x.shape[1])
            x = x.reshape(len(x), 1, side, side)
        else:
            return None
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if x.dim() != 4 or x.shape[1] not in (1, 3) or len(x) == 0:
        return None
    return x.to("cpu", torch.float32)


def to_uint8(values: torch.Tensor | np.ndarray, per_tile: bool = True, symmetric: bool = False,
             unit_range: bool = False) -> np.ndarray:
    """Map float tiles (N x H x W or N x H x W x 3) to uint8 0..255.

    Args:
        values: the tiles; the first axis indexes tiles.
        per_tile: stretch each tile over its own min..max (True) or all tiles over the
            common min..max (False), so tiles can be compared with each other.
        symmetric: map -m..m with m the largest magnitude (0 lands on 128), for signed
            data such as weights shown with a diverging colormap.
        unit_range: map 0..1 straight to 0..255 (values outside are clipped), so changes
            of brightness show; for images already in [0, 1].

    Returns:
        A C-contiguous uint8 array of the same shape. Constant tiles become 0 (or 128
        when symmetric); NaN becomes 0.
    """
    if isinstance(values, torch.Tensor):
        values = values.detach().to("cpu", torch.float32).numpy()
    array = np.asarray(values, dtype=np.float32)
    if array.ndim < 3:
        raise ValueError(f"tiles need shape N x H x W (or N x H x W x 3), got shape {array.shape}")
    array = np.nan_to_num(array, nan=0.0, posinf=0.0, neginf=0.0)
    if unit_range:
        return np.ascontiguousarray(np.clip(array * 255.0 + 0.5, 0, 255).astype(np.uint8))
    axes = tuple(range(1, array.ndim)) if per_tile else tuple(range(array.ndim))
    if symmetric:
        high = np.abs(array).max(axis=axes, keepdims=True)
        low = -high
    else:
        low = array.min(axis=axes, keepdims=True)
        high = array.max(axis=axes, keepdims=True)
    span = high - low
    safe = np.where(span > 0, span, 1.0)
    scaled = (array - low) / safe * 255.0
    scaled = np.where(span > 0, scaled, 127.5 if symmetric else 0.0)
    return np.ascontiguousarray(np.clip(scaled + 0.5, 0, 255).astype(np.uint8))


def image_tiles(batch: torch.Tensor, per_tile: bool = False, unit_range: bool = False) -> np.ndarray | None:
    """uint8 tiles N x H x W (one channel) or N x H x W x 3 of a batch of samples, or None.

    Args:
        batch: samples as :func:`as_images` accepts them.
        per_tile: stretch each image over its own range (True) or all over the common one.
        unit_range: values in [0, 1] map straight to 0..255.
    """
    images = as_images(batch)
    if images is None:
        return None
    channels_last = images[:, 0] if images.shape[1] == 1 else images.permute(0, 2, 3, 1)
    return to_uint8(channels_last, per_tile=per_tile, unit_range=unit_range)
