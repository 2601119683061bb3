"""x.detach() in forward (left over from plotting): the convolutions never get gradients."""
from _common import TinyCNN, standard

EXPECT = {"backward.grads"}
WHERE = ("conv1",)


class Net(TinyCNN):
    def forward(self, x):
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x))).detach()
        return self.fc2(self.relu(self.fc1(x.flatten(1))))


def build():
    return standard(Net())
