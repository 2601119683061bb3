"""The tutorial CNN with x.view(-1, 64*7*7): the view itself fails on 64x5x5 features."""
import torch.nn.functional as F
from _common import standard
from torch import nn

EXPECT = {"forward.shapes"}
WHERE = ("#BUG",)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.fc1 = nn.Linear(64 * 7 * 7, 1024)
        self.fc2 = nn.Linear(1024, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, 64 * 7 * 7)  #BUG
        return self.fc2(F.relu(self.fc1(x)))


def build():
    return standard(Net())
