"""Images stored N x H x W x C (numpy layout) fed to a channels-first CNN."""
from _common import TinyCNN, digits, loaders
from torch import nn, optim

EXPECT = {"forward.shapes", "data.grid"}
WHERE = ("data", "conv1")


def build():
    x, y, xv, yv = digits()
    x, xv = x.permute(0, 2, 3, 1).contiguous(), xv.permute(0, 2, 3, 1).contiguous()
    train, val = loaders(x, y, xv, yv)
    model = TinyCNN()
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.CrossEntropyLoss(),
                optimizer=optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
