"""Correct: a tabular regression (standardised features, MSE, Adam)."""
import torch
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset

EXPECT: set = set()
WHERE = None


def build():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1200, 8, generator=g)
    w = torch.randn(8, 1, generator=g)
    y = torch.sin(x @ w) + 0.1 * torch.randn(1200, 1, generator=g)
    train = DataLoader(TensorDataset(x[:1000], y[:1000]), batch_size=64, shuffle=True,
                       generator=torch.Generator().manual_seed(0))
    val = DataLoader(TensorDataset(x[1000:], y[1000:]), batch_size=200)
    model = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 1))
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.MSELoss(),
                optimizer=optim.Adam(model.parameters(), lr=1e-3))
