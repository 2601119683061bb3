"""A BatchNorm layer defined in __init__ but never called in forward."""
from _common import TinyCNN, standard
from torch import nn

EXPECT = {"backward.grads"}
WHERE = ("bn1",)


class Net(TinyCNN):
    def __init__(self):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(16)

    def forward(self, x):
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x)))
        return self.fc2(self.relu(self.fc1(x.flatten(1))))


def build():
    return standard(Net())
