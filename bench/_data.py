"""Seeded benchmark data: augmented scikit-learn digits, 8x8 = 64 dimensions."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def digits_64(n: int = 10_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` digits (64-dim, pixel values 0-16) made from the 1,797 bundled 8x8 images.

    Each sample is a random original under a small random affine warp (rotation +-12 deg,
    scale 0.9-1.1, shift +-0.7 px, bilinear) plus pixel noise, so the data keeps the ten
    class manifolds of real digits at the size the budget names.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    g = torch.Generator().manual_seed(seed)
    pick = torch.randint(len(bunch.target), (n,), generator=g)
    images = torch.tensor(bunch.images, dtype=torch.float32)[pick].unsqueeze(1)
    angle = (torch.rand(n, generator=g) * 2 - 1) * np.deg2rad(12)
    scale = 0.9 + 0.2 * torch.rand(n, generator=g)
    shift = (torch.rand(n, 2, generator=g) * 2 - 1) * (0.7 / 4)  # in [-1, 1] grid units
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack((torch.stack((cos, -sin, shift[:, 0]), 1),
                         torch.stack((sin, cos, shift[:, 1]), 1)), 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    warped = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros",
                           align_corners=False)
    warped += torch.randn(warped.shape, generator=g) * 0.5
    X = warped.reshape(n, 64).numpy().astype(np.float32)
    return X, bunch.target[pick.numpy()]
