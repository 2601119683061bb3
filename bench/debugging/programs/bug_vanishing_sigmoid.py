"""A 12-layer sigmoid MLP: the gradient vanishes on its way to the first layers."""
from _common import digits, loaders
from torch import nn, optim

EXPECT = {"backward.grad_scale", "experiments.overfit"}
WHERE = ("body.0", "optimizer", "")


def build():
    layers = [nn.Flatten()]
    width = 784
    for _ in range(12):
        layers += [nn.Linear(width, 64), nn.Sigmoid()]
        width = 64
    body = nn.Sequential(*layers[1:])
    model = nn.Sequential()
    model.add_module("flat", layers[0])
    model.add_module("body", body)
    model.add_module("head", nn.Linear(64, 10))
    x, y, xv, yv = digits()
    train, val = loaders(x, y, xv, yv)
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.CrossEntropyLoss(),
                optimizer=optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
