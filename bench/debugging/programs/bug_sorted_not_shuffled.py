"""Data sorted by class and shuffle=False: every batch holds one digit."""
from _common import TinyCNN, digits, loaders
from torch import nn, optim

EXPECT = {"data.labels"}
WHERE = ("loader", "labels")


def build():
    x, y, xv, yv = digits()
    order = y.argsort(stable=True)
    train, val = loaders(x[order], y[order], xv, yv, shuffle=False)
    model = TinyCNN()
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.CrossEntropyLoss(),
                optimizer=optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
