"""Writes notebooks/02_inside_the_model.ipynb (run: python notebooks/_build/02_inside_the_model.py).

Other helpers append cells for their views at the end (weights, gradients, activation
statistics): keep the section headings stable.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

cells = [
    new_markdown_cell("""# Inside the model

Look inside a CNN **while it trains**: its layers and how data flows between them, and the
feature maps of any layer and channel for any probe image. Everything nbviz shows is computed
on a fixed probe batch, in eval mode, without gradients, between training batches — looking
never changes what the model learns."""),
    new_code_cell("""import time
import torch
import nbviz

torch.manual_seed(0)
split = nbviz.datasets.digits()            # embedded digits, 1x28x28; nothing is downloaded
train_loader, val_loader = split.loaders(batch_size=64)
model = nbviz.models.SmallCNN()            # conv blocks with BatchNorm, nested in Sequentials
session = nbviz.TrainingSession(model, train_loader, val_loader, epochs=3, lr=0.05)"""),
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
    new_markdown_cell("""Now train. The cell returns at once; the feature maps refresh while the model learns (about
twice a second), and you can switch layer and channel while it runs."""),
    new_code_cell("""session.start()
time.sleep(2)
maps.select(layer="features.0.2", channel=3)   # switch while training runs
session.wait()
print(f"trained {session.step_count} steps; validation accuracy {session.history.last('val_accuracy'):.1%}")"""),
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

A model without convolutions has no spatial layers. The view says so and shows the activations
of its vector layers as bar charts instead of an empty grid."""),
    new_code_cell("""mlp = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(28 * 28, 64), torch.nn.ReLU(),
                          torch.nn.Linear(64, 10))
mlp_session = nbviz.TrainingSession(mlp, train_loader, val_loader, epochs=1)
nbviz.FeatureMaps(mlp_session, layer="2")"""),
    new_markdown_cell("""## Weights, gradients and activation statistics

The first layer's filters, any layer's weights, per-layer histograms over time, gradient flow
and activation statistics (dead ReLUs flagged) of the digits model trained above."""),
    new_code_cell("""weights = nbviz.Weights(session)
weights"""),
    new_code_cell("""nbviz.GradientFlow(session)"""),
    new_code_cell("""nbviz.ActivationStats(session)"""),
]

notebook = new_notebook(cells=cells, metadata={
    "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
    "language_info": {"name": "python"},
})
out = Path(__file__).resolve().parents[1] / "02_inside_the_model.ipynb"
nbformat.write(notebook, out)
print("wrote", out)
