"""Every label overwritten with 0 (a loop variable reused)."""
from _common import TinyCNN, digits, loaders
from torch import nn, optim

EXPECT = {"data.labels", "data.label_signal"}
WHERE = ("labels", "data")


def build():
    x, y, xv, yv = digits()
    y[:] = 0
    train, val = loaders(x, y, xv, yv)
    model = TinyCNN()
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.CrossEntropyLoss(),
                optimizer=optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
