"""Correct: an MLP with Adam(1e-3) and dropout."""
from _common import digits, loaders
from torch import nn, optim

EXPECT: set = set()
WHERE = None


def build():
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.2),
                          nn.Linear(128, 10))
    x, y, xv, yv = digits()
    train, val = loaders(x, y, xv, yv)
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.CrossEntropyLoss(),
                optimizer=optim.Adam(model.parameters(), lr=1e-3))
