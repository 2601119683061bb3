"""Features centred with the batch mean in forward: a sample's output depends on the others."""
from _common import TinyCNN, standard


class Net(TinyCNN):
    def forward(self, x):
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x))).flatten(1)
        x = x - x.mean(0)  #BUG
        return self.fc2(self.relu(self.fc1(x)))


EXPECT = {"forward.batch_independence"}
WHERE = ("#BUG",)


def build():
    return standard(Net())
