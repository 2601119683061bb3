"""Adam with lr=1e-8 (1e-3 meant): the weights barely move."""
from _common import TinyCNN, digits, loaders
from torch import nn, optim

EXPECT = {"optimizer.lr", "experiments.overfit"}
WHERE = ("optimizer",)


def build():
    x, y, xv, yv = digits()
    train, val = loaders(x, y, xv, yv)
    model = TinyCNN()
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.CrossEntropyLoss(),
                optimizer=optim.Adam(model.parameters(), lr=1e-8))
