"""Correct: a model returning a dict (Hugging Face style) with the logits under "logits"."""
from _common import TinyCNN, standard

EXPECT: set = set()
WHERE = None


class Net(TinyCNN):
    def forward(self, x):
        logits = super().forward(x)
        return {"logits": logits, "features": logits.detach()}


def build():
    return standard(Net())
