"""SGD with lr=5 (a typo for 5e-2)."""
from _common import TinyCNN, standard

EXPECT = {"optimizer.lr", "experiments.overfit"}
WHERE = ("optimizer",)


def build():
    return standard(TinyCNN(), lr=5.0)
