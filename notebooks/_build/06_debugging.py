"""Writes notebooks/06_debugging.ipynb (run: python notebooks/_build/06_debugging.py)."""

from common import write_notebook
from nbformat.v4 import new_code_cell, new_markdown_cell

cells = [
    new_markdown_cell("""# Debugging a model with `nbviz.check`

A training bug hides in one of six places: the **data**, the **initialisation**, the
**forward** pass, the **backward** pass, the **optimizer** or the **loss**. `nbviz.check(model,
loader, loss_fn, optimizer)` runs a checklist over all six on *copies* of your model and
optimizer (your weights, optimizer state and random streams are untouched) and says, for each
finding, what it saw, where (module, or file and line in `forward`) and how to fix it.

Below, four classic bugs are found and fixed one after another."""),
    new_code_cell("""import torch
import torch.nn.functional as F
from torch import nn
import nbviz

torch.manual_seed(0)
split = nbviz.datasets.digits()                    # 1x28x28 digits, bundled: no download
train_loader, val_loader = split.loaders(batch_size=64)"""),
    new_markdown_cell("""## Bug 1: the tutorial CNN

This network comes from a tutorial: `fc1` was sized for 64×7×7 features, but the two 3×3
convolutions without padding and two poolings leave 64×5×5."""),
    new_code_cell("""class Net(nn.Module):
    def __init__(self, fc1_in=64 * 7 * 7):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.fc1 = nn.Linear(fc1_in, 1024)
        self.fc2 = nn.Linear(1024, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))

report = nbviz.check(Net(), train_loader, experiments=())
print(report["forward.shapes"].text())"""),
    new_markdown_cell("""The report names the layer, the shapes and the fix. Printed whole, it lists the failures
first; in a notebook its HTML form has the evidence (tables, images, plots) folded under each
finding."""),
    new_code_cell("""model = Net(fc1_in=64 * 5 * 5)                     # the fix the report suggests
report = nbviz.check(model, train_loader, experiments=())
assert report["forward.shapes"].status == "pass"
report"""),
    new_markdown_cell("""## Bug 2: softmax before `CrossEntropyLoss`

`CrossEntropyLoss` applies `log_softmax` itself; a softmax at the end of `forward` squashes
the gradients and training stalls."""),
    new_code_cell("""class SoftmaxNet(Net):
    def forward(self, x):
        return torch.softmax(super().forward(x), dim=1)

report = nbviz.check(SoftmaxNet(fc1_in=64 * 5 * 5), train_loader, nn.CrossEntropyLoss(),
                     experiments=())
print(report["loss.input"].text())"""),
    new_code_cell("""report = nbviz.check(Net(fc1_in=64 * 5 * 5), train_loader, nn.CrossEntropyLoss(), experiments=())
assert report["loss.input"].status == "pass\""""),
    new_markdown_cell("""## Bug 3: a training step without `zero_grad`

Pass your own step function as `train_step=`: nbviz runs it once on copies, with a stale
gradient planted beforehand, and looks at the gradients `optimizer.step()` receives."""),
    new_code_cell("""def step(model, optimizer, x, y):
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()                                 # zero_grad forgotten

model = Net(fc1_in=64 * 5 * 5)
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
report = nbviz.check(model, train_loader, nn.CrossEntropyLoss(), optimizer, train_step=step,
                     experiments=())
print(report["optimizer.zero_grad"].text())"""),
    new_code_cell("""def step(model, optimizer, x, y):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()

report = nbviz.check(model, train_loader, nn.CrossEntropyLoss(), optimizer, train_step=step,
                     experiments=())
assert report["optimizer.zero_grad"].status == "pass\""""),
    new_markdown_cell("""## Bug 4: labels counted from one

Labels read from a file that numbers the classes 1..10, for a model with 10 outputs (0..9)."""),
    new_code_cell("""from torch.utils.data import DataLoader, TensorDataset

x, y = split.train.tensors
shifted = DataLoader(TensorDataset(x, y + 1), batch_size=64, shuffle=True)
report = nbviz.check(model, shifted, nn.CrossEntropyLoss(), optimizer, experiments=())
print(report["data.labels"].text())"""),
    new_markdown_cell("""## All fixed

With the four fixes the checklist is clean, and a copy of the model memorises one batch (the
*overfit one batch* experiment; `experiments=("overfit", "lr_range")` adds Smith's
learning-rate range test, which plots the loss against the learning rate and suggests one)."""),
    new_code_cell("""report = nbviz.check(model, train_loader, nn.CrossEntropyLoss(), optimizer, val_loader,
                     train_step=step, experiments=("overfit",))
print(report.headline())
assert report.ok, str(report)
report"""),
    new_markdown_cell("""## In the dashboard

`nbviz.Checklist(session)` (also the *Checklist* tab of `nbviz.Dashboard`) has a button for
the checks and one for each experiment; they run on copies at the next batch boundary, so
you can press them while the model trains."""),
    new_code_cell("""session = nbviz.TrainingSession(model, train_loader, val_loader, optimizer=optimizer, epochs=1)
nbviz.Checklist(session)"""),
]

write_notebook(cells, "06_debugging.ipynb")
