"""Targets shaped N x 1 (a column from a data frame) for CrossEntropyLoss."""
from _common import TinyCNN, digits, loaders
from torch import nn, optim

EXPECT = {"data.targets", "loss.call"}
WHERE = ("targets", "loss_fn")


def build():
    x, y, xv, yv = digits()
    train, val = loaders(x, y[:, None], xv, yv[:, None])
    model = TinyCNN()
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.CrossEntropyLoss(),
                optimizer=optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
