"""A custom init with std=1 for every weight (instead of Kaiming's 1/sqrt(fan_in))."""
from _common import TinyCNN, standard
from torch import nn

EXPECT = {"initialisation.first_loss", "initialisation.output_scale"}
WHERE = None


def build():
    model = TinyCNN()
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(m.weight, std=1.0)
    return standard(model)
