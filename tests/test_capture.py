"""Layer discovery and activation capture: names, shapes, no side effects, no hooks left."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import nbviz
from nbviz.models import MnistCNN, ShapesCNN, SmallCNN
from nbviz.probes.capture import (
    UnknownLayerError,
    capture_activations,
    discover_layers,
    nbviz_hooks,
    session_activations,
)
from nbviz.views.context import context_for


def test_discovers_nested_layers_by_dotted_name_in_execution_order():
    layers = discover_layers(SmallCNN(), torch.randn(2, 1, 28, 28))
    names = [layer.name for layer in layers]
    assert names[:4] == ["features.0.0", "features.0.1", "features.0.2", "features.0"]
    conv = layers[0]
    assert conv.type == "Conv2d" and conv.output_shape == (16, 28, 28) and conv.spatial
    assert conv.params == 16 * 9 and conv.trainable
    fc = next(layer for layer in layers if layer.name == "classifier.1")
    assert fc.vector and not fc.spatial and fc.output_shape == (64,)
    assert "" not in names


def test_reference_cnns_have_spatial_layers():
    for model, x in [(MnistCNN(), torch.randn(1, 1, 28, 28)), (ShapesCNN(), torch.randn(1, 3, 32, 32))]:
        spatial = [layer for layer in discover_layers(model, x) if layer.spatial]
        assert spatial and all(len(layer.output_shape) == 3 for layer in spatial)
    names = {layer.name for layer in discover_layers(ShapesCNN(), torch.randn(1, 3, 32, 32))}
    assert {"block1.conv1", "block1.out", "block2.bn2"} <= names


def test_resnet18_discovery_counts_reused_relu_and_captures_before_inplace_ops():
    model = torchvision.models.resnet18(weights=None)
    x = torch.randn(1, 3, 64, 64)
    layers = {layer.name: layer for layer in discover_layers(model, x)}
    assert layers["layer1.0.conv1"].output_shape == (64, 16, 16)
    assert layers["layer1.0.relu"].calls == 2  # BasicBlock reuses its ReLU
    assert layers["layer4"].output_shape == (512, 2, 2)
    assert layers["fc"].vector
    acts = capture_activations(model, x, ["bn1", "relu"])
    # resnet's ReLU is in-place: the BatchNorm output must still hold its negative values
    assert (acts["bn1"] < 0).any()
    assert (acts["relu"] >= 0).all()
    assert nbviz_hooks(model) == []


@pytest.mark.parametrize("builder", [torchvision.models.mobilenet_v3_small, torchvision.models.vgg11])
def test_torchvision_models_list_spatial_layers(builder):
    model = builder(weights=None)
    layers = discover_layers(model, torch.randn(1, 3, 32, 32))
    assert sum(layer.spatial for layer in layers) > 10
    assert nbviz_hooks(model) == []


def test_capture_restores_modes_and_leaves_batchnorm_stats_rng_and_grads_alone():
    torch.manual_seed(0)
    model = SmallCNN().train()
    model.classifier.eval()  # a part kept in eval on purpose stays so
    x = torch.randn(4, 1, 28, 28)
    model(x).sum().backward()
    grads = [p.grad.clone() for p in model.parameters()]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    acts = capture_activations(model, x, ["features.0.1", "classifier.3"])
    assert acts["features.0.1"].shape == (4, 16, 28, 28)
    assert acts["classifier.3"].shape == (4, 10)
    assert model.training and not model.classifier.training and model.features.training
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    assert all(torch.equal(g, p.grad) for g, p in zip(grads, model.parameters(), strict=True))
    assert torch.equal(rng, torch.get_rng_state())
    assert not acts["features.0.1"].requires_grad


def test_unknown_layer_is_refused_with_a_hint_and_no_hook_is_left():
    model = SmallCNN()
    with pytest.raises(UnknownLayerError, match="'features.9' is not a submodule of SmallCNN"):
        capture_activations(model, torch.randn(1, 1, 28, 28), ["features.0.0", "features.9"])
    assert nbviz_hooks(model) == []


def test_hooks_are_removed_when_the_forward_pass_fails():
    model = MnistCNN()
    with pytest.raises(RuntimeError):
        capture_activations(model, torch.randn(1, 3, 28, 28), ["conv2"])  # wrong channel count
    with pytest.raises(RuntimeError):
        discover_layers(model, torch.randn(1, 3, 28, 28))
    assert nbviz_hooks(model) == []


def test_layer_that_never_runs_is_reported():
    class Unused(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used = nn.Linear(4, 2)
            self.spare = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.used(x)

    with pytest.raises(ValueError, match="spare did not produce a tensor"):
        capture_activations(Unused(), torch.randn(2, 4), ["spare"])
    assert [layer.name for layer in discover_layers(Unused(), torch.randn(2, 4))] == ["used"]


def test_bad_inputs_are_refused():
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        discover_layers(SmallCNN(), [1, 2, 3])
    with pytest.raises(ValueError, match="at least one sample"):
        capture_activations(SmallCNN(), torch.empty(0, 1, 28, 28), ["features"])


def test_session_helpers_run_between_batches_and_cache_discovery():
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,)))
    session = nbviz.TrainingSession(SmallCNN(), DataLoader(data, batch_size=16), epochs=2)
    context_for(session).layers()
    assert context_for(session).layers() is context_for(session).layers()  # cached per run
    session.start()
    inputs, _ = session.probe_batch(2)
    acts, step = session_activations(session, ["features.1"], inputs)
    session.wait(60)
    assert acts["features.1"].shape == (2, 16, 14, 14)
    assert 0 <= step <= 8
    assert nbviz_hooks(session.model) == []


def test_capture_with_call_counts_stops_after_the_layer_and_matches_a_full_pass():
    class Counting(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.runs = 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.runs += 1
            return x

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None)
    model.fc = nn.Sequential(Counting(), model.fc)
    x = torch.randn(1, 3, 64, 64)
    calls = {layer.name: layer.calls for layer in discover_layers(model, x)}
    runs = model.fc[0].runs
    full = capture_activations(model, x, ["layer1.0.relu"])
    assert model.fc[0].runs == runs + 1
    early = capture_activations(model, x, ["layer1.0.relu"], calls=calls)
    assert model.fc[0].runs == runs + 1  # the rest of the network did not run
    assert torch.equal(early["layer1.0.relu"], full["layer1.0.relu"])  # the reused ReLU's last call
    assert nbviz_hooks(model) == []
    assert model.training
