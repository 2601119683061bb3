"""Labels 1..10 (read from a file that counts from one) for a 10-way model."""
from _common import TinyCNN, digits, loaders
from torch import nn, optim

EXPECT = {"data.labels", "loss.call"}
WHERE = ("labels", "loss_fn")


def build():
    x, y, xv, yv = digits()
    train, val = loaders(x, y + 1, xv, yv + 1)
    model = TinyCNN()
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.CrossEntropyLoss(),
                optimizer=optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
