"""requires_grad_(False) on the whole model (meant for the backbone only)."""
import torch
from _common import TinyCNN, digits, loaders
from torch import nn

EXPECT = {"backward.frozen", "backward.grads"}
WHERE = ("conv1", "fc2")


def build():
    x, y, xv, yv = digits()
    train, val = loaders(x, y, xv, yv)
    model = TinyCNN()
    model.requires_grad_(False)
    model.fc2.weight.requires_grad_(False)
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.CrossEntropyLoss(),
                optimizer=torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.05))
