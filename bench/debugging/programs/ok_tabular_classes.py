"""Correct: three Gaussian blobs in 2-D (non-image data), an MLP with CrossEntropyLoss."""
import torch
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset

EXPECT: set = set()
WHERE = None


def build():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 2.0], [2.0, -1.0], [-2.0, -1.0]])
    y = torch.randint(0, 3, (900,), generator=g)
    x = centres[y] + 0.6 * torch.randn(900, 2, generator=g)
    train = DataLoader(TensorDataset(x[:700], y[:700]), batch_size=32, shuffle=True,
                       generator=torch.Generator().manual_seed(0))
    val = DataLoader(TensorDataset(x[700:], y[700:]), batch_size=200)
    model = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 3))
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.CrossEntropyLoss(),
                optimizer=optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
