"""Correct: one-hot (probability) targets with CrossEntropyLoss, which accepts them."""
import torch.nn.functional as F
from _common import TinyCNN, digits, loaders
from torch import nn, optim

EXPECT: set = set()
WHERE = None


def build():
    x, y, xv, yv = digits()
    train, val = loaders(x, F.one_hot(y, 10).float(), xv, F.one_hot(yv, 10).float())
    model = TinyCNN()
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.CrossEntropyLoss(),
                optimizer=optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
