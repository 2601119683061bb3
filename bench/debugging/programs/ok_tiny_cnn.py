"""Correct: a small CNN on digits, SGD with momentum, and a correct train step."""
from _common import TinyCNN, good_step, standard

EXPECT: set = set()
WHERE = None


def build():
    return standard(TinyCNN(), train_step=good_step)
