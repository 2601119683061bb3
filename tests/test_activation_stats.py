"""Activation statistics: values, dead ReLUs, no hooks left, training untouched, the live view."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import nbviz
from nbviz.probes.act_stats import compute_activation_stats
from nbviz.views.activations import ActivationStats


def dead_relu_model() -> nn.Sequential:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.BatchNorm1d(6), nn.Linear(6, 2))
    with torch.no_grad():
        model[0].bias[:2] = -100.0  # units 0 and 1 can never fire
    return model


def no_hooks(model: nn.Module) -> bool:
    return not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def test_values_and_dead_units() -> None:
    model = dead_relu_model()
    x = torch.randn(32, 4)
    report = compute_activation_stats(model, x, step=7)
    assert [layer.name for layer in report.layers] == ["0", "1", "2", "3"]
    relu = report.layers[1]
    expected = torch.relu(model[0](x)).detach()
    assert relu.mean == pytest.approx(float(expected.mean()), rel=1e-5)
    assert relu.std == pytest.approx(float(expected.std()), rel=1e-5)
    assert relu.zero_fraction == pytest.approx(float((expected == 0).float().mean()))
    assert (relu.dead_units, relu.units) == (2, 6) and relu.flagged
    assert report.flagged() == [relu] and "2 of 6 units" in relu.explanation()
    assert not report.layers[0].flagged  # a Linear with zero-output units is not a ReLU
    assert report.step == 7


def test_training_state_untouched_and_no_hooks_left() -> None:
    model = dead_relu_model()
    model.train()
    model[3].eval()  # a part kept in eval on purpose stays so
    bn = model[2]
    before = (bn.running_mean.clone(), bn.running_var.clone(), int(bn.num_batches_tracked))
    x = torch.randn(16, 4)
    rng = torch.get_rng_state()
    compute_activation_stats(model, x)
    assert torch.equal(bn.running_mean, before[0]) and torch.equal(bn.running_var, before[1])
    assert int(bn.num_batches_tracked) == before[2]
    assert torch.equal(torch.get_rng_state(), rng)
    assert model.training and not model[3].training
    assert no_hooks(model)


def test_failing_forward_names_the_shape_and_removes_hooks() -> None:
    model = dead_relu_model()
    with pytest.raises(RuntimeError, match=r"probe batch \(shape \(3, 5\)\)"):
        compute_activation_stats(model, torch.randn(3, 5))
    assert no_hooks(model)


@pytest.mark.parametrize("arch", ["resnet18", "mobilenet_v3_small"])
def test_torchvision_models(arch: str) -> None:
    import torchvision

    model = getattr(torchvision.models, arch)(weights=None, num_classes=4)
    report = compute_activation_stats(model, torch.randn(2, 3, 32, 32))
    assert len(report.layers) > 20 and no_hooks(model)
    if arch == "resnet18":  # a ReLU used twice per block is reported per call
        assert "layer1.0.relu (call 2)" in [layer.name for layer in report.layers]


def test_live_view_on_a_session_and_errors() -> None:
    model = dead_relu_model()
    data = TensorDataset(torch.randn(64, 4), torch.randint(0, 2, (64,)))
    session = nbviz.TrainingSession(model, DataLoader(data, batch_size=16), epochs=1)
    view = ActivationStats(session, probe_size=16, period=0.0)
    view.active = False
    view.refresh()  # not training: the pass runs at once
    assert view.report is not None and "Dead" not in view.table.value
    assert "2 of 6 units" in view.flags.value
    assert "nbviz-act-table" in view.table.value and list(view.zero_bars.color[::-1]) == [0, 1, 0, 0]  # rows: first layer on top
    view.close()
    assert no_hooks(model)
    lonely = ActivationStats(nbviz.watch(nn.Linear(2, 2)))
    lonely.refresh()
    assert "probe_data" in lonely.message.value
    lonely.close()
    with pytest.raises(ValueError, match="budget"):
        ActivationStats(session, budget=2)


def test_mobilenet_view_labels_are_distinct_readable_rows_and_the_axis_holds_the_means() -> None:
    import torchvision

    from nbviz.views.charts import short_labels

    model = torchvision.models.mobilenet_v3_small(weights=None, num_classes=4)
    data = TensorDataset(torch.randn(8, 3, 64, 64), torch.randint(0, 4, (8,)))
    session = nbviz.TrainingSession(model, DataLoader(data, batch_size=4), epochs=1)
    view = ActivationStats(session, probe_size=4, period=0.0)
    view.active = False
    view.refresh()
    try:
        labels = list(view.std_bars.x)[::-1]  # drawn bottom-up: the first layer is the top row
        assert len(labels) == len(view.report.layers) > 50
        assert len(set(labels)) == len(labels)  # not "features.0…" over and over
        assert max(map(len, labels)) <= 28
        assert labels == short_labels([layer.name for layer in view.report.layers], width=28)
        # names unrotated on the left, one row each: room for the longest and >= 14 px per row
        figure = view.std_chart.figure
        assert view.std_bars.orientation == "horizontal"
        assert figure.fig_margin["left"] >= 6 * max(map(len, labels))
        rows_px = int(figure.layout.height.rstrip("px")) - figure.fig_margin["top"] - figure.fig_margin["bottom"]
        assert rows_px / len(labels) >= 14
        assert list(view.mean_dots.y) == list(view.std_bars.x)  # each mean on its layer's row
        means = np.array([layer.mean for layer in view.report.layers])
        assert view.std_chart.y_scale.min <= min(0.0, means.min())
        assert view.std_chart.y_scale.max >= np.array([layer.std for layer in view.report.layers]).max()
        assert np.isfinite(np.asarray(view.std_bars.y)).all()
    finally:
        view.close()
