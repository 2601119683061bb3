"""Writes notebooks/02_inside_the_model.ipynb (run: python notebooks/_build/02_inside_the_model.py).

"""

from common import FAST_NOTE, write_notebook
from nbformat.v4 import new_code_cell, new_markdown_cell

cells = [
    new_markdown_cell(f"""# Inside the model

Look inside a CNN **while it trains**: its layers and how data flows between them, and the
feature maps of any layer and channel for any probe image. Everything nbviz shows is computed
on a fixed probe batch, in eval mode, without gradients, between training batches — looking
never changes what the model learns.

{FAST_NOTE}"""),
    new_code_cell("""import os, time
import torch
import nbviz

FAST = os.environ.get("NBVIZ_FAST") == "1"   # the test suite's short schedule
torch.manual_seed(0)
split = nbviz.datasets.digits()            # embedded digits, 1x28x28; nothing is downloaded
train_loader, val_loader = split.loaders(batch_size=32)
model = nbviz.models.SmallCNN(width=32)    # conv blocks with BatchNorm, nested in Sequentials
session = nbviz.TrainingSession(model, train_loader, val_loader, epochs=3 if FAST else 25, lr=0.0005)"""),
    new_markdown_cell("""## The structure of the model

One probe forward pass gives every submodule's output shape; the graph on the right comes from
`torch.fx` (it falls back to the order modules ran in when a model cannot be traced). **Click a
row of the table or a node of the graph**: the feature-map view below follows."""),
    new_code_cell("""structure = nbviz.ModelStructure(session)
structure"""),
    new_markdown_cell("""## Feature maps

Pick a layer, move the channel slider or click a tile in the grid; choose the probe image with
the sample slider. *per channel* stretches every tile over its own range, *per layer* uses one
range for all channels so you can compare them. Switching channel never reruns the model."""),
    new_code_cell("""maps = nbviz.FeatureMaps(session, layer="features.0.0")
maps"""),
    new_markdown_cell("""The views are linked: selecting a layer in the structure view selects it here (and in the
weight views), in code as with a click."""),
    new_code_cell("""structure.select("features.2.0")
maps.select(channel=7)
print("feature maps now show", maps.layer, "channel", maps.channel)"""),
    new_markdown_cell("""Now train. The feature maps refresh while the model learns (about twice a second), and you
can switch layer and channel while it runs: the cell below switches once after two seconds,
then waits for the end of the run (about half a minute). Watch the tiles change as the
filters learn."""),
    new_code_cell("""started = time.monotonic()
session.start()
time.sleep(2)
maps.select(layer="features.0.2", channel=3)   # switch while training runs
session.wait()
print(f"digits: validation accuracy {session.history.last('val_accuracy'):.1%} after {session.epoch} epochs "
      f"({session.step_count} steps, {time.monotonic() - started:.0f} s)")"""),
    new_markdown_cell("""## A torchvision ResNet-18

The same views work on torchvision models (built here with `weights=None`: nothing is
downloaded). Nested blocks are listed by dotted name (`layer1.0.conv1`), and the graph shows
each residual connection as an edge into an `add` node. A few training steps on coloured shapes:"""),
    new_code_cell("""import torchvision

shapes = nbviz.datasets.shapes(n=400)      # 3x32x32 coloured shapes, 10 classes
resnet = torchvision.models.resnet18(weights=None, num_classes=10)
resnet_session = nbviz.TrainingSession(resnet, shapes.loaders(batch_size=32)[0], epochs=1, lr=0.01)
resnet_structure = nbviz.ModelStructure(resnet_session)
print(f"{len(resnet_structure.graph.residual_edges())} skip connections found by torch.fx")
resnet_structure"""),
    new_code_cell("""resnet_maps = nbviz.FeatureMaps(resnet_session, layer="layer1.0.conv1", probe_size=8)
resnet_session.step(3)                      # three batches, then pause
resnet_maps"""),
    new_markdown_cell("""## When there are no feature maps

A model without convolutions has no spatial layers, so `nbviz.FeatureMaps` refuses it and says
what to use instead: `nbviz.UnitActivations` draws every unit of a vector layer (here the 64
hidden units after the ReLU) for one probe sample; pick the layer and the sample."""),
    new_code_cell("""mlp = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(28 * 28, 64), torch.nn.ReLU(),
                          torch.nn.Linear(64, 10))
mlp_session = nbviz.TrainingSession(mlp, train_loader, val_loader, epochs=1)
try:
    nbviz.FeatureMaps(mlp_session)
except ValueError as error:
    print(error)
nbviz.UnitActivations(mlp_session, layer="2")"""),
    new_markdown_cell("""## Watching weights and gradients while the model learns

Weights and gradients are recorded from the training thread a few times a second (well under
1% of training time), so open these views *before* training. The filter grid and histograms
update live; the heat map is an ipympl figure redrawn only when you pick a layer or click
**Redraw**, so you can zoom, pan and draw on it. Move the **snapshot** slider to look back at
earlier steps."""),
    new_code_cell("""torch.manual_seed(0)
fresh = nbviz.models.SmallCNN()
live = nbviz.TrainingSession(fresh, train_loader, val_loader, epochs=2, lr=0.05)
live_weights = nbviz.Weights(live)
live_grads = nbviz.GradientFlow(live)
live_acts = nbviz.ActivationStats(live)
live_weights.stats.every = 4   # this run is short: keep every 4th step (default: throttled by time)
live.start()
live_weights"""),
    new_code_cell("""live_grads"""),
    new_code_cell("""live_acts"""),
    new_code_cell("""live.wait()
live_weights.layer.value = "classifier.1"          # the heat map redraws for the new layer
live_weights.wait_drawn()                          # ... wait for it before drawing on it
stats = live_weights.stats
print(f"{stats.samples_taken} snapshots recorded, {len(stats)} kept, "
      f"{1000 * stats.time_spent / max(stats.samples_taken, 1):.1f} ms each")"""),
    new_markdown_cell("""The heat map is a plain matplotlib figure: extend it with `view.ax`, then redraw it."""),
    new_code_cell("""live_weights.ax.axhline(31.5, color="k", lw=0.8)   # e.g. mark a unit of interest
live_weights.figure.canvas.draw_idle()"""),
    new_markdown_cell("""## A model whose gradients vanish

Twelve sigmoid layers in a row: each sigmoid passes back at most a quarter of the gradient, so
the first layers get almost none. The gradient view flags them and says what to try."""),
    new_code_cell("""layers = [torch.nn.Flatten(), torch.nn.Linear(28 * 28, 32), torch.nn.Sigmoid()]
for _ in range(11):
    layers += [torch.nn.Linear(32, 32), torch.nn.Sigmoid()]
deep = torch.nn.Sequential(*layers, torch.nn.Linear(32, 10))
deep_session = nbviz.TrainingSession(deep, train_loader, epochs=1, lr=0.1)
deep_grads = nbviz.GradientFlow(deep_session)
deep_grads.stats.every = 2                     # sample every 2nd step (deterministic)
deep_session.start()
deep_session.wait()
from nbviz.probes.grad_health import diagnose
for flag in diagnose(deep_grads.stats.snapshots())[:3]:
    print(flag.kind, flag.name)
deep_grads"""),
]

write_notebook(cells, "02_inside_the_model.ipynb")
