"""Normalize((0.1307,), (0.3081,)) applied in the dataset and again in the loader's transform."""
from _common import TinyCNN, digits, loaders
from torch import nn, optim

EXPECT = {"data.range"}
WHERE = ("data",)


def norm(t):
    return (t - 0.1307) / 0.3081


def build():
    x, y, xv, yv = digits()
    train, val = loaders(norm(norm(x)), y, norm(norm(xv)), yv)
    model = TinyCNN()
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.CrossEntropyLoss(),
                optimizer=optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
