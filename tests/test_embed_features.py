"""Layer features for embeddings: default layer, maps, errors, memory refusal, no effect on training."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import nbviz
from nbviz.embed import FeatureError, ProjectionCancelled, default_layer, extract_features
from nbviz.embed import features as features_mod
from nbviz.models import SmallCNN


@pytest.fixture
def model() -> nn.Module:
    torch.manual_seed(0)
    return SmallCNN(width=4)


def _inputs(n: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.rand(n, 1, 28, 28, generator=g), torch.randint(10, (n,), generator=g)


def test_default_is_input_of_last_linear(model: nn.Module) -> None:
    x, y = _inputs()
    assert default_layer(model) == "classifier.3"
    feats = extract_features(model, x, y, batch_size=16)
    assert feats.values.shape == (40, 64) and feats.values.dtype == np.float32
    assert feats.layer == "classifier.3" and feats.side == "input" and feats.reduction is None
    with torch.no_grad():
        model.eval()
        expected = model.classifier[:3](model.features(x))
        logits = model(x)
    assert np.allclose(feats.values, expected.numpy(), atol=1e-5)
    assert np.array_equal(feats.targets, y.numpy())
    assert np.array_equal(feats.predictions, logits.argmax(1).numpy())
    assert feats.loss.shape == (40,) and (feats.loss >= 0).all()
    assert np.allclose(feats.confidence, torch.softmax(logits, 1).max(1).values.numpy(), atol=1e-6)


def test_maps_are_pooled_or_flattened(model: nn.Module) -> None:
    x, _ = _inputs(8)
    avg = extract_features(model, x, layer="features.1", side="output")
    flat = extract_features(model, x, layer="features.1", side="output", pool="flatten")
    assert avg.reduction == "avg" and avg.values.shape == (8, 4)
    assert flat.reduction == "flatten" and flat.values.shape == (8, 4 * 14 * 14)
    assert np.allclose(flat.values.reshape(8, 4, -1).mean(2), avg.values, atol=1e-5)


class _TupleOut(nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x, x


class _Weird(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pair = _TupleOut()
        self.fc = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, _ = self.pair(x)
        return self.fc(a).sum(0)  # a scalar-ish output per batch


def test_layer_that_is_not_vectors_or_maps_is_refused() -> None:
    x = torch.rand(5, 3)
    with pytest.raises(FeatureError, match="tuple, not a tensor"):
        extract_features(_Weird(), x, layer="pair", side="output")
    with pytest.raises(FeatureError, match=r"shape \(2,\) for a batch of 5"):
        extract_features(_Weird(), x, layer="", side="output")
    with pytest.raises(FeatureError, match="no layer named 'nope'"):
        extract_features(_Weird(), x, layer="nope")
    with pytest.raises(FeatureError, match="no nn.Linear"):
        default_layer(nn.Sequential(nn.ReLU()))
    with pytest.raises(FeatureError, match="pool"):
        extract_features(_Weird(), x, layer="fc", pool="max")


def test_too_large_for_memory_is_refused_with_the_size(model, monkeypatch) -> None:
    monkeypatch.setattr(features_mod, "available_memory", lambda: 10_000)
    x, _ = _inputs(40)
    with pytest.raises(FeatureError, match=r"40 samples x 64 dims need 10\.00 KiB") as info:
        extract_features(model, x)
    assert "available" in str(info.value)
    with pytest.raises(FeatureError, match="100,000"):
        extract_features(model, x, n=100_001)


def test_cancel_between_batches(model: nn.Module) -> None:
    cancel = threading.Event()
    done: list[int] = []

    def progress(n: int, total: int) -> None:
        done.append(n)
        cancel.set()

    with pytest.raises(ProjectionCancelled):
        extract_features(model, _inputs()[0], batch_size=16, progress=progress, cancel=cancel)
    assert done == [16]


def _train(with_probe: bool) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = SmallCNN(width=4)
    x, y = _inputs(96)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    model.classifier.insert(2, nn.Dropout(0.3))  # draws random numbers while training
    session = nbviz.TrainingSession(model, loader, DataLoader(TensorDataset(x, y), batch_size=32),
                                    epochs=2, lr=0.05)
    session.start(paused=True)
    session.step(3)
    if with_probe:
        feats = extract_features(session, n=64, batch_size=32)  # through the batch boundary
        assert feats.values.shape == (64, 64)
    session.resume()
    session.wait()
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_probing_during_training_changes_nothing() -> None:
    plain, probed = _train(False), _train(True)
    assert plain.keys() == probed.keys()
    for key in plain:
        assert torch.equal(plain[key], probed[key]), key


@pytest.mark.parametrize("name, layer, dims", [("resnet18", "fc", 512),
                                               ("mobilenet_v3_small", "classifier.3", 1024)])
def test_torchvision_models(name: str, layer: str, dims: int) -> None:
    import torchvision

    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None, num_classes=10)
    model.train()
    bn_before = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    x = torch.rand(4, 3, 64, 64)
    feats = extract_features(model, x, batch_size=2)
    assert feats.layer == layer and feats.values.shape == (4, dims)
    assert feats.predictions.shape == (4,) and feats.loss is None  # no targets given
    assert model.training  # mode restored
    for key, value in model.state_dict().items():
        if "running" in key:
            assert torch.equal(value, bn_before[key]), key
    maps = extract_features(model, x, layer="features.1" if "mobile" in name else "layer1",
                            side="output")
    assert maps.reduction == "avg" and maps.values.shape[0] == 4


def test_features_of_a_layer_followed_by_an_in_place_relu_are_its_own_output():
    from nbviz.embed import extract_features

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(inplace=True), torch.nn.Linear(16, 3))
    x = torch.randn(32, 8)
    feats = extract_features(model, x, layer="0", side="output")
    expected = model[0](x).detach().numpy()
    assert (feats.values < 0).any(), "the in-place ReLU overwrote the captured features"
    assert abs(feats.values - expected).max() < 1e-5
