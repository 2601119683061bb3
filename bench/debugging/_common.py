"""Shared by the planted-bug programs: small digits data, loaders, a tidy CNN, a train step."""

from __future__ import annotations

import functools

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    import nbviz

    split = nbviz.datasets.digits()
    x, y = split.train.tensors
    xv, yv = split.val.tensors
    return x, y, xv, yv


def digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Train and validation digits, 1x28x28 in [0, 1] (fresh copies: programs may edit them)."""
    return tuple(t.clone() for t in _digits())  # type: ignore[return-value]


def loaders(x: torch.Tensor, y: torch.Tensor, xv: torch.Tensor | None = None,
            yv: torch.Tensor | None = None, batch_size: int = 64, shuffle: bool = True
            ) -> tuple[DataLoader, DataLoader | None]:
    gen = torch.Generator().manual_seed(0)
    train = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle, generator=gen)
    val = DataLoader(TensorDataset(xv, yv), batch_size=256) if xv is not None else None
    return train, val


class TinyCNN(nn.Module):
    """A correct small CNN for 1x28x28 digits."""

    def __init__(self, in_channels: int = 1, classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.relu = nn.ReLU()
        self.fc1 = nn.Linear(32 * 7 * 7, 64)
        self.fc2 = nn.Linear(64, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x)))
        return self.fc2(self.relu(self.fc1(x.flatten(1))))


def standard(model: nn.Module, lr: float = 0.05, loss_fn: nn.Module | None = None, **data: object
             ) -> dict:
    """The usual setup around ``model``: digits loaders, CE loss, SGD with momentum."""
    x, y, xv, yv = digits()
    train, val = loaders(x, y, xv, yv)
    return dict(model=model, loader=train, val_loader=val,
                loss_fn=loss_fn or nn.CrossEntropyLoss(),
                optimizer=torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9), **data)


def good_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor,
              y: torch.Tensor) -> float:
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()
