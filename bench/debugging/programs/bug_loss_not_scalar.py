"""CrossEntropyLoss(reduction='none') and loss.backward() on a vector."""
from _common import TinyCNN, standard
from torch import nn

EXPECT = {"loss.call", "loss.reduction"}
WHERE = ("loss_fn",)


def build():
    return standard(TinyCNN(), loss_fn=nn.CrossEntropyLoss(reduction="none"))
