"""The training step never calls optimizer.zero_grad(): gradients add up across steps."""
from _common import TinyCNN, standard
from torch import nn


def step(model, optimizer, x, y):
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()


EXPECT = {"optimizer.zero_grad"}
WHERE = ("train_step",)


def build():
    return standard(TinyCNN(), train_step=step)
