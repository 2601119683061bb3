"""The validation set is taken from the training set (the split was done twice)."""
from _common import TinyCNN, digits, loaders
from torch import nn, optim

EXPECT = {"data.duplicates"}
WHERE = ("data",)


def build():
    x, y, _, _ = digits()
    train, val = loaders(x, y, x[:300], y[:300])
    model = TinyCNN()
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.CrossEntropyLoss(),
                optimizer=optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
