"""A few corrupt samples: NaN pixels (a division by a zero norm in preprocessing)."""
from _common import TinyCNN, digits, loaders
from torch import nn, optim

EXPECT = {"data.finite"}
WHERE = ("data",)


def build():
    x, y, xv, yv = digits()
    x[::50, :, 3, 3] = float("nan")
    train, val = loaders(x, y, xv, yv)
    model = TinyCNN()
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.CrossEntropyLoss(),
                optimizer=optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
