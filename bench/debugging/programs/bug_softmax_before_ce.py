"""forward ends in softmax, and the loss is CrossEntropyLoss (which applies log_softmax)."""
import torch
from _common import TinyCNN, standard

EXPECT = {"loss.input"}
WHERE = ("#BUG",)


class Net(TinyCNN):
    def forward(self, x):
        logits = super().forward(x)
        return torch.softmax(logits, dim=1)  #BUG


def build():
    return standard(Net())
