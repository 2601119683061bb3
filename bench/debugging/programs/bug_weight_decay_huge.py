"""weight_decay=1.0 on SGD (0.0001 meant)."""
from _common import TinyCNN, digits, loaders
from torch import nn, optim

EXPECT = {"optimizer.lr"}
WHERE = ("optimizer",)


def build():
    x, y, xv, yv = digits()
    train, val = loaders(x, y, xv, yv)
    model = TinyCNN()
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.CrossEntropyLoss(),
                optimizer=optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1.0))
