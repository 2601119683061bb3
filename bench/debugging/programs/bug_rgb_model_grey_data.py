"""A model built for RGB (3 channels) trained on grey images."""
from _common import TinyCNN, standard

EXPECT = {"forward.shapes"}
WHERE = ("conv1",)


def build():
    return standard(TinyCNN(in_channels=3))
