"""Correct: even/odd digits with one logit and BCEWithLogitsLoss."""
from _common import TinyCNN, digits, loaders
from torch import nn, optim

EXPECT: set = set()
WHERE = None


def build():
    x, y, xv, yv = digits()
    train, val = loaders(x, (y % 2).float()[:, None], xv, (yv % 2).float()[:, None])
    model = TinyCNN(classes=1)
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.BCEWithLogitsLoss(),
                optimizer=optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
