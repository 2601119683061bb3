"""Correct: token ids (integer inputs) through an embedding bag, no optimizer given."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

EXPECT: set = set()
WHERE = None


class Bag(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(100, 16)
        self.fc = nn.Linear(16, 2)

    def forward(self, x):
        return self.fc(self.emb(x).mean(1))


def build():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 100, (400, 12), generator=g)
    y = (x[:, 0] > 50).long()
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    return dict(model=Bag(), loader=loader, loss_fn=nn.CrossEntropyLoss())
