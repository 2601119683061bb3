"""One-hot targets given to NLLLoss, which takes class indices."""
import torch.nn.functional as F
from _common import TinyCNN, digits, loaders
from torch import nn, optim

EXPECT = {"data.targets", "loss.call"}
WHERE = ("targets", "loss_fn")


class Net(TinyCNN):
    def forward(self, x):
        return F.log_softmax(super().forward(x), dim=1)


def build():
    x, y, xv, yv = digits()
    train, val = loaders(x, F.one_hot(y, 10).float(), xv, F.one_hot(yv, 10).float())
    model = Net()
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.NLLLoss(),
                optimizer=optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
