"""The optimizer holds another instance's parameters (the model was re-created after it)."""
from _common import TinyCNN, digits, loaders
from torch import nn, optim

EXPECT = {"optimizer.coverage"}
WHERE = ("conv1",)


def build():
    x, y, xv, yv = digits()
    train, val = loaders(x, y, xv, yv)
    model = TinyCNN()
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    model = TinyCNN()
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.CrossEntropyLoss(),
                optimizer=optimizer)
