"""nn.Dropout(1.0) (keep-probability confused with drop-probability): every feature dropped."""
from _common import TinyCNN, standard
from torch import nn


class Net(TinyCNN):
    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(1.0)

    def forward(self, x):
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x)))
        return self.fc2(self.drop(self.relu(self.fc1(x.flatten(1)))))


EXPECT = {"backward.grads", "experiments.overfit"}
WHERE = ("conv1", "")


def build():
    return standard(Net())
