"""The optimizer was built, then model.fc2 replaced by a new head: the head is not optimised."""
from _common import TinyCNN, digits, loaders
from torch import nn, optim

EXPECT = {"optimizer.coverage"}
WHERE = ("fc2",)


def build():
    x, y, xv, yv = digits()
    train, val = loaders(x, y, xv, yv)
    model = TinyCNN()
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.fc2 = nn.Linear(64, 10)
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.CrossEntropyLoss(),
                optimizer=optimizer)
