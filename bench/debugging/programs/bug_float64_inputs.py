"""Inputs converted with torch.from_numpy on float64 arrays: the model's weights are float32."""
from _common import TinyCNN, digits, loaders
from torch import nn, optim

EXPECT = {"forward.shapes"}
WHERE = ("conv1",)


def build():
    x, y, xv, yv = digits()
    train, val = loaders(x.double(), y, xv.double(), yv)
    model = TinyCNN()
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.CrossEntropyLoss(),
                optimizer=optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
