"""CrossEntropyLoss(reduction='sum') with batches of 64: the step size depends on the batch."""
from _common import TinyCNN, standard
from torch import nn

EXPECT = {"loss.reduction"}
WHERE = ("loss_fn",)


def build():
    return standard(TinyCNN(), loss_fn=nn.CrossEntropyLoss(reduction="sum"))
