"""MSELoss between 10 logits and the class index (broadcast, and classes treated as numbers)."""
from _common import TinyCNN, digits, loaders
from torch import nn, optim

EXPECT = {"loss.regression_on_classes"}
WHERE = ("loss_fn",)


def build():
    x, y, xv, yv = digits()
    train, val = loaders(x, y.float(), xv, yv.float())
    model = TinyCNN()
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.MSELoss(),
                optimizer=optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
