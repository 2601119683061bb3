"""Images and labels shuffled with two different permutations."""
import torch
from _common import TinyCNN, digits, loaders
from torch import nn, optim

EXPECT = {"data.label_signal"}
WHERE = ("data",)


def build():
    x, y, xv, yv = digits()
    g = torch.Generator().manual_seed(1)
    x = x[torch.randperm(len(x), generator=g)]
    y = y[torch.randperm(len(y), generator=g)]
    train, val = loaders(x, y, xv, yv)
    model = TinyCNN()
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.CrossEntropyLoss(),
                optimizer=optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
