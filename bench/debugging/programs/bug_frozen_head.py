"""Fine-tuning with the loop freezing the wrong part: the new head is frozen, the body trains."""
from _common import TinyCNN, standard

EXPECT = {"backward.frozen"}
WHERE = ("fc2",)


def build():
    model = TinyCNN()
    model.fc2.requires_grad_(False)
    return standard(model)
