"""Writes notebooks/05_your_own_loop.ipynb (run: python notebooks/_build/05_your_own_loop.py)."""

from common import write_notebook
from nbformat.v4 import new_code_cell, new_markdown_cell

cells = [
    new_markdown_cell("""# Your own loop, steered from the dashboard

Keep writing the training loop you always write, in a plain cell. Wrap the loader in
`viz.batches(...)` and the epoch loop in `viz.epoch_range(n)`: the dashboard's **Pause**, **Step**,
**Stop** and learning rate reach the loop at its next batch, even though the cell keeps the
kernel busy. The control bar's `viz.steering` says how the clicks get there:

* **kernel subshell** — JupyterLab >= 4.4 with ipykernel >= 7 sends widget messages on a subshell;
* **message pump at each checkpoint** — front ends without subshells (VS Code, older Notebook);
* **training thread** — the loop runs in a background thread (`viz.run_in_thread`, Lightning's
  `fit_in_thread`), so the cell returns at once."""),
    new_code_cell("""import torch
from torch import nn
import nbviz

torch.manual_seed(0)
split = nbviz.datasets.digits()
train_loader, val_loader = split.loaders(batch_size=64)
model = nbviz.models.SmallCNN()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
viz = nbviz.watch(model, optimizer, probe_data=val_loader)
viz.dashboard()"""),
    new_markdown_cell("""Run the loop. Press **Pause** while it runs: it stops within a batch. **Stop** ends the
epoch loop too."""),
    new_code_cell("""for epoch in viz.epoch_range(3):
    for x, y in viz.batches(train_loader):
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        viz.log(loss=loss.item())
print(viz.state, "after", viz.epoch, "epochs,", viz.step_count, "steps; clicks came via", viz.steering)"""),
    new_markdown_cell("""## PyTorch Lightning

`NbvizCallback` is a Lightning callback and an nbviz session: the same dashboard, and
`fit_in_thread` runs `trainer.fit` in the background so the cell returns. Stop sets the trainer's
own `should_stop`; a new learning rate survives the LR scheduler. (Needs `pip install
'nbviz[lightning]'`.)"""),
    new_code_cell("""import lightning.pytorch as L
from nbviz.integrations.lightning import NbvizCallback, fit_in_thread


class Digits(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = nbviz.models.SmallCNN()

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, _):
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)

    def validation_step(self, batch, _):
        x, y = batch
        self.log("val_loss", nn.functional.cross_entropy(self.net(x), y))

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)
        return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)]


L.seed_everything(0, verbose=False)
lit_model = Digits()
callback = NbvizCallback(lit_model, probe_data=val_loader)
trainer = L.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_checkpointing=False,
                    enable_progress_bar=False, callbacks=[callback])
callback.dashboard()"""),
    new_code_cell("""lit_viz = fit_in_thread(callback, trainer, lit_model, train_loader, val_loader)  # returns at once"""),
    new_code_cell("""lit_viz.wait()   # only so this notebook runs top to bottom unattended
print(lit_viz.state, lit_viz.epoch, "epochs; last val_loss", round(lit_viz.history.last("val_loss"), 3))"""),
    new_markdown_cell("""## Hugging Face Trainer

Not available yet: `nbviz.integrations.transformers` is still to be written."""),
]

write_notebook(cells, "05_your_own_loop.ipynb")
