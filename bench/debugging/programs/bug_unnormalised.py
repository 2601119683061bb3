"""Raw 0..255 pixel values (ToTensor forgotten)."""
from _common import TinyCNN, digits, loaders
from torch import nn, optim

EXPECT = {"data.range"}
WHERE = ("data",)


def build():
    x, y, xv, yv = digits()
    train, val = loaders((x * 255).round(), y, (xv * 255).round(), yv)
    model = TinyCNN()
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.CrossEntropyLoss(),
                optimizer=optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
