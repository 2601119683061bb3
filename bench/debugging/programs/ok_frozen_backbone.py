"""Correct: fine-tuning with a frozen backbone and a trainable head (only the head optimised)."""
from _common import TinyCNN, digits, loaders
from torch import nn, optim

EXPECT: set = set()
WHERE = None


def build():
    x, y, xv, yv = digits()
    train, val = loaders(x, y, xv, yv)
    model = TinyCNN()
    for layer in (model.conv1, model.conv2):
        layer.requires_grad_(False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.CrossEntropyLoss(),
                optimizer=optim.Adam(trainable, lr=1e-3))
