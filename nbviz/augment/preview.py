"""Preview draws: the same fixed samples through the pipeline several times, as uint8 tiles."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset

from ..widgets.images import to_uint8
from .pipeline import PipelineSpec
from .wiring import AugmentedDataset, first_input, one_thread, sample_seed

MAX_TILE = 96  # preview tiles are at most this many pixels on a side


def fixed_samples(session: Any, k: int, input_key: str = "input") -> torch.Tensor:
    """The first ``k`` training inputs as stored (before augmentation), else the probe batch."""
    loader = getattr(session, "train_loader", None)
    if isinstance(loader, DataLoader) and not isinstance(loader.dataset, IterableDataset):
        dataset = loader.dataset
        if isinstance(dataset, AugmentedDataset):
            dataset = dataset.dataset
        n = min(k, len(dataset))  # type: ignore[arg-type]  # map-style: has __len__
        items = []
        for i in range(n):
            item = dataset[i]
            items.append(first_input(_Single(item), input_key))  # type: ignore[arg-type]
        if items and all(isinstance(x, torch.Tensor) for x in items):
            return torch.stack([x.detach().cpu() for x in items])
    return session.probe_batch(k)[0]


class _Single:
    """A one-item 'dataset' so :func:`first_input` can pick the input out of an item."""

    def __init__(self, item: Any) -> None:
        self.item = item

    def __getitem__(self, index: int) -> Any:
        return self.item


def draw(samples: torch.Tensor, spec: PipelineSpec, draws: int, seed: int) -> torch.Tensor:
    """``(k, 1 + draws, C, H, W)``: each sample, then ``draws`` augmented versions of it.

    Seeded by ``seed`` (a reroll changes it); the global RNG is left as it was.
    """
    pipeline = spec.build()
    rows = []
    with torch.random.fork_rng(devices=[]), one_thread():
        for i, x in enumerate(samples):
            row = [x]
            for d in range(draws):
                torch.default_generator.manual_seed(sample_seed(seed, d, i))
                out = pipeline(x)
                row.append(out if out.shape == x.shape else _pad_to(out, x.shape))
            rows.append(torch.stack(row))
    return torch.stack(rows)


def _pad_to(image: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """A smaller crop shown centred on a blank tile of the original size."""
    canvas = torch.zeros(shape, dtype=image.dtype)
    h, w = image.shape[-2:]
    top, left = (shape[-2] - h) // 2, (shape[-1] - w) // 2
    canvas[..., top:top + h, left:left + w] = image
    return canvas


def to_tiles(grid: torch.Tensor, unit_range: bool) -> np.ndarray:
    """uint8 tiles ``N x H x W`` (gray) or ``N x H x W x 3`` (RGB) in row-major order.

    Values in [0, 1] map straight to 0..255 (so brightness changes show); other data is
    stretched over the common min..max of all tiles.
    """
    tiles = grid.reshape(-1, *grid.shape[2:]).detach().float()
    side = max(tiles.shape[-2:])
    if side > MAX_TILE:  # large images: a smaller copy is plenty to judge an augmentation
        scale = MAX_TILE / side
        size = (max(1, round(tiles.shape[-2] * scale)), max(1, round(tiles.shape[-1] * scale)))
        tiles = torch.nn.functional.interpolate(tiles, size=size, mode="bilinear", antialias=True)
    channels_last = tiles[:, 0] if tiles.shape[1] == 1 else tiles.permute(0, 2, 3, 1)
    return to_uint8(channels_last, per_tile=False, unit_range=unit_range)


__all__ = ["draw", "fixed_samples", "to_tiles"]
