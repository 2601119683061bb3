"""Rows of the image as a sequence for an LSTM (seq-first): x.view(T, N, D) instead of permute."""
from _common import digits, loaders
from torch import nn, optim

EXPECT = {"forward.batch_independence"}
WHERE = ("#BUG",)


class RowLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(28, 64)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        n = x.shape[0]
        seq = x.view(28, n, 28)  #BUG
        out, _ = self.lstm(seq)
        return self.fc(out[-1])


def build():
    x, y, xv, yv = digits()
    train, val = loaders(x, y, xv, yv)
    model = RowLSTM()
    return dict(model=model, loader=train, val_loader=val, loss_fn=nn.CrossEntropyLoss(),
                optimizer=optim.Adam(model.parameters(), lr=1e-3))
