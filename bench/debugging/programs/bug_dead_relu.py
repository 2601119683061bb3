"""A hidden layer initialised with a large negative bias: its ReLU units never fire."""
from _common import digits, loaders
from torch import nn, optim

EXPECT = {"initialisation.dead_units"}
WHERE = ("act1",)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.flat = nn.Flatten()
        self.fc1 = nn.Linear(784, 128)
        self.act1 = nn.ReLU()
        self.fc2 = nn.Linear(128, 10)
        nn.init.constant_(self.fc1.bias, -20.0)

    def forward(self, x):
        return self.fc2(self.act1(self.fc1(self.flat(x))))


def build():
    x, y, xv, yv = digits()
    train, val = loaders(x, y, xv, yv)
    model = MLP()
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.CrossEntropyLoss(),
                optimizer=optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
