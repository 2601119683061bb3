"""Correct: inputs normalised once with the data's own mean and std."""
from _common import TinyCNN, digits, loaders
from torch import nn, optim

EXPECT: set = set()
WHERE = None


def build():
    x, y, xv, yv = digits()
    mean, std = float(x.mean()), float(x.std())
    train, val = loaders((x - mean) / std, y, (xv - mean) / std, yv)
    model = TinyCNN()
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.CrossEntropyLoss(),
                optimizer=optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
