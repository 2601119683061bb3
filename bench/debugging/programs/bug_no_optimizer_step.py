"""The step computes the loss and gradients but never calls optimizer.step()."""
from _common import TinyCNN, standard
from torch import nn


def step(model, optimizer, x, y):
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    return loss


EXPECT = {"optimizer.zero_grad"}
WHERE = ("train_step",)


def build():
    return standard(TinyCNN(), train_step=step)
