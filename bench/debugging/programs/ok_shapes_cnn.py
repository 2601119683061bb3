"""Correct: nbviz's ShapesCNN (residual blocks, BatchNorm) on 3x32x32 colour shapes."""
import torch
from torch import nn

import nbviz

EXPECT: set = set()
WHERE = None


def build():
    split = nbviz.datasets.shapes(n=800)
    train, val = split.loaders(batch_size=32)
    model = nbviz.models.ShapesCNN(width=16)
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.CrossEntropyLoss(),
                optimizer=torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
