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

The same for `transformers.Trainer`, here on a tiny classifier of the digits' pixels: Stop sets
the Trainer's `should_training_stop`, and a new learning rate survives the linear warmup.
(Needs `pip install 'nbviz[transformers]'`.)"""),
    new_code_cell("""import transformers
from transformers import Trainer, TrainingArguments
from nbviz.integrations.transformers import NbvizCallback as HFCallback, train_in_thread


class PixelClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, pixels, labels=None):
        logits = self.net(pixels)
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return {"loss": loss, "logits": logits}


class AsDicts(torch.utils.data.Dataset):
    def __init__(self, tensors):
        self.tensors = tensors

    def __len__(self):
        return len(self.tensors)

    def __getitem__(self, i):
        x, y = self.tensors[i]
        return {"pixels": x, "labels": y}


transformers.set_seed(0)
hf_model = PixelClassifier()
hf_callback = HFCallback(hf_model)
hf_args = TrainingArguments(output_dir="hf_run", num_train_epochs=3, per_device_train_batch_size=64,
                            learning_rate=0.05, warmup_steps=20, lr_scheduler_type="linear",
                            eval_strategy="epoch", logging_steps=1, save_strategy="no",
                            use_cpu=True, report_to=[], disable_tqdm=True)
hf_trainer = Trainer(model=hf_model, args=hf_args, train_dataset=AsDicts(split.train),
                     eval_dataset=AsDicts(split.val), callbacks=[hf_callback])
hf_callback.dashboard()"""),
    new_code_cell("""hf_viz = train_in_thread(hf_callback, hf_trainer)   # returns at once"""),
    new_code_cell("""hf_viz.wait()   # only so this notebook runs top to bottom unattended
print(hf_viz.state, hf_viz.epoch, "epochs; last val_loss", round(hf_viz.history.last("val_loss"), 3))"""),
]

write_notebook(cells, "05_your_own_loop.ipynb")
