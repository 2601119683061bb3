"""scikit-learn's bundled handwritten digits (1,797 images): no download."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .split import DataSplit, split_tensors


def digits(size: int = 28, val_fraction: float = 0.2, seed: int = 0) -> DataSplit:
    """The 8x8 digits as 1 x size x size float tensors in [0, 1], split train/validation.

    Args:
        size: 8 for the original images, or larger (28 matches MNIST models) for a
            bilinear upscale.
        val_fraction: share of the images held out for validation.
        seed: seeds the split.

    Raises:
        ValueError: for a size below 8 or a fraction outside (0, 1).
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be a whole number >= 8 (the digits are 8x8), got {size!r}")
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    if size != 8:
        images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
        images = images.clamp_(0.0, 1.0)
    labels = torch.tensor(bunch.target, dtype=torch.long)
    return split_tensors(images, labels, val_fraction, seed, [str(i) for i in range(10)], "digits")
