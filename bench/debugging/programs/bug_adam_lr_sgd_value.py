"""Adam given SGD's learning rate 0.5."""
from _common import TinyCNN, digits, loaders
from torch import nn, optim

EXPECT = {"optimizer.lr", "experiments.overfit"}
WHERE = ("optimizer",)


def build():
    x, y, xv, yv = digits()
    train, val = loaders(x, y, xv, yv)
    model = TinyCNN()
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.CrossEntropyLoss(),
                optimizer=optim.Adam(model.parameters(), lr=0.5))
