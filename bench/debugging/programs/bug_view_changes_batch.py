"""x.view(-1, 800) on 64x5x5 features: rows of half a sample, the batch size doubles."""
import torch.nn.functional as F
from _common import standard
from torch import nn

EXPECT = {"forward.output", "loss.call"}
WHERE = ("#BUG",)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.fc1 = nn.Linear(800, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, 800)  #BUG
        return self.fc2(F.relu(self.fc1(x)))


def build():
    return standard(Net())
