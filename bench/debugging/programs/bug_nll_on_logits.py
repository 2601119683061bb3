"""NLLLoss on raw logits (log_softmax forgotten)."""
from _common import TinyCNN, standard
from torch import nn

EXPECT = {"loss.input"}
WHERE = ("forward",)


def build():
    return standard(TinyCNN(), loss_fn=nn.NLLLoss())
