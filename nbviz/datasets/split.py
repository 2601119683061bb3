"""A seeded train/validation split of in-memory tensors, with loaders."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch.utils.data import DataLoader, TensorDataset


@dataclass
class DataSplit:
    """Train and validation tensors of one dataset, and the names of its classes."""

    train: TensorDataset
    val: TensorDataset
    classes: list[str] = field(default_factory=list)
    name: str = ""

    def loaders(self, batch_size: int = 64, shuffle: bool = True, seed: int = 0,
                num_workers: int = 0) -> tuple[DataLoader, DataLoader]:
        """(train_loader, val_loader); the training order is seeded by ``seed``.

        Raises:
            ValueError: for a batch size < 1.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
        generator = torch.Generator().manual_seed(seed)
        train = DataLoader(self.train, batch_size=batch_size, shuffle=shuffle, generator=generator,
                           num_workers=num_workers)
        val = DataLoader(self.val, batch_size=max(batch_size, 256), shuffle=False)
        return train, val

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.train.tensors[0].shape[1:])


def split_tensors(images: torch.Tensor, labels: torch.Tensor, val_fraction: float, seed: int,
                  classes: list[str], name: str) -> DataSplit:
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction!r}")
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    n_val = max(1, int(round(len(images) * val_fraction)))
    val_idx, train_idx = order[:n_val], order[n_val:]
    return DataSplit(TensorDataset(images[train_idx], labels[train_idx]),
                     TensorDataset(images[val_idx], labels[val_idx]), classes, name)
