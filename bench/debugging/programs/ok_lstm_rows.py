"""Correct: rows of the image as a sequence for a batch-first LSTM."""
from _common import digits, loaders
from torch import nn, optim

EXPECT: set = set()
WHERE = None


class RowLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(28, 64, batch_first=True)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        out, _ = self.lstm(x.squeeze(1))
        return self.fc(out[:, -1])


def build():
    x, y, xv, yv = digits()
    train, val = loaders(x, y, xv, yv)
    model = RowLSTM()
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.CrossEntropyLoss(),
                optimizer=optim.Adam(model.parameters(), lr=3e-3))
