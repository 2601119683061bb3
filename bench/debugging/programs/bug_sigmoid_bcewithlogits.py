"""Even/odd digits: a sigmoid at the end of forward and BCEWithLogitsLoss (sigmoid twice)."""
import torch
from _common import TinyCNN, digits, loaders
from torch import nn, optim

EXPECT = {"loss.input"}
WHERE = ("#BUG",)


class Net(TinyCNN):
    def __init__(self):
        super().__init__(classes=1)

    def forward(self, x):
        return torch.sigmoid(super().forward(x))  #BUG


def build():
    x, y, xv, yv = digits()
    train, val = loaders(x, (y % 2).float()[:, None], xv, (yv % 2).float()[:, None])
    model = Net()
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.BCEWithLogitsLoss(),
                optimizer=optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
