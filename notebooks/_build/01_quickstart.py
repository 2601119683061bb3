"""Writes notebooks/01_quickstart.ipynb (run: python notebooks/_build/01_quickstart.py)."""

from common import FAST_NOTE, write_notebook
from nbformat.v4 import new_code_cell, new_markdown_cell

cells = [
    new_markdown_cell(f"""# nbviz quickstart

Train a small CNN on handwritten digits **in the background**, watch its curves live, pause it,
change the learning rate, resume, save and reload — all from this notebook. The data ships with
scikit-learn, so nothing is downloaded.

{FAST_NOTE}"""),
    new_code_cell("""import os, time
import torch
import nbviz

FAST = os.environ.get("NBVIZ_FAST") == "1"   # the test suite's short schedule
EPOCHS = 5 if FAST else 35

torch.manual_seed(0)
split = nbviz.datasets.digits()            # 1,797 8x8 digits, upscaled to 1x28x28
train_loader, val_loader = split.loaders(batch_size=32)
print(f"{len(split.train)} training and {len(split.val)} validation images of shape {split.image_shape}")"""),
    new_markdown_cell("""## A session and its dashboard

`TrainingSession` owns a background thread. The dashboard's buttons (Start, Pause, Step, Stop),
the learning-rate slider and the epoch field steer it; what you click reaches the training loop
at the next batch. The curves update while it trains."""),
    new_code_cell("""model = nbviz.models.SmallCNN(width=32)
session = nbviz.TrainingSession(model, train_loader, val_loader, epochs=EPOCHS, lr=0.002)
dashboard = nbviz.Dashboard(session)
dashboard"""),
    new_markdown_cell("""Start training. The cell returns at once: the notebook stays usable while the model trains
(press **Start** in the dashboard instead, if you prefer). Scroll up and watch the loss fall and
the validation accuracy climb, one point per epoch; the run takes half a minute or more,
depending on the computer."""),
    new_code_cell("""started = time.monotonic()
session.start()"""),
    new_markdown_cell("""## Pause, change the learning rate, resume

The same controls exist in code. A change applies at the next batch and is recorded in the
history (and marked on the loss curve). A smaller learning rate takes smaller, steadier steps."""),
    new_code_cell("""session.step(5)                  # train exactly 5 more batches, then pause
while session.state != "paused":
    time.sleep(0.05)
print("paused at step", session.step_count)
session.lr = 0.0002                 # lower the learning rate
session.resume()"""),
    new_markdown_cell("""Wait for the run to finish, then read what it reached from its history:"""),
    new_code_cell("""session.wait()                    # block until all epochs are done
accuracy = session.history.last("val_accuracy")
print(f"digits: validation accuracy {accuracy:.1%} after {session.epoch} epochs "
      f"({session.step_count} steps, {time.monotonic() - started:.0f} s)")
for event in session.history.events_of("hyperparameter"):
    print(f"step {event.step}: {event.description}")"""),
    new_markdown_cell("""## Save and reload

`save` writes the model, optimizer, history and step counter atomically; `load` continues the
same run on a fresh model object."""),
    new_code_cell("""import tempfile, pathlib
path = pathlib.Path(tempfile.mkdtemp()) / "digits.pt"
session.save(path)

resumed = nbviz.TrainingSession.load(path, nbviz.models.SmallCNN(width=32), train_loader, val_loader)
print("resumed at step", resumed.step_count, "with", len(resumed.history.get("train_loss")[0]), "loss points")"""),
    new_markdown_cell("""Keep going: allow ten more epochs and this run trains on. Press **Start** below, then **Pause**."""),
    new_code_cell("""resumed.epochs = resumed.epoch + 10   # ten more epochs
nbviz.Dashboard(resumed, tabs=[])"""),
    new_markdown_cell("""## Your own loop

If you keep your own training loop, `nbviz.watch` gives the same dashboard; `viz.batches(loader)`
honours Pause/Step/Stop between batches and `viz.log` feeds the curves. Run the loop in a thread
(`viz.run_in_thread`) so the notebook stays responsive and the buttons reach it."""),
    new_code_cell("""model2 = nbviz.models.SmallCNN()
optimizer = torch.optim.SGD(model2.parameters(), lr=0.05, momentum=0.9)
viz = nbviz.watch(model2, optimizer, probe_data=val_loader)

def my_loop():
    for epoch in range(2):
        for x, y in viz.batches(train_loader):
            loss = torch.nn.functional.cross_entropy(model2(x), y)
            optimizer.zero_grad(); loss.backward(); optimizer.step()
            viz.log(loss=loss.item())

viz.run_in_thread(my_loop)
viz.dashboard()"""),
    new_code_cell("""viz.wait()
print("logged", viz.step_count, "steps; last loss", round(viz.history.last("train_loss"), 3))"""),
]

write_notebook(cells, "01_quickstart.ipynb")
