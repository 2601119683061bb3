"""Gradient-flow diagnosis and the GradientFlow view: vanishing, exploding, no gradient, cleanup."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import manual_step
from torch import nn

import nbviz
from nbviz.probes.grad_health import diagnose
from nbviz.probes.param_stats import ParamStats
from nbviz.views.context import context_for
from nbviz.views.gradients import GradientFlow


def deep_sigmoid(depth: int = 12, width: int = 16) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(width, 3))


def exploding_linear(depth: int = 10, width: int = 16, gain: float = 4.0) -> nn.Sequential:
    model = nn.Sequential(*[nn.Linear(width, width) for _ in range(depth)], nn.Linear(width, 3))
    with torch.no_grad():
        for layer in model:
            layer.weight.mul_(gain)
    return model


def train_watched(model: nn.Module, steps: int = 3, lr: float = 0.01):
    torch.manual_seed(1)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    viz = nbviz.watch(model, opt)
    view = GradientFlow(viz)
    view.stats.every = 1
    x, y = torch.randn(32, model[0].in_features), torch.randint(0, 3, (32,))
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        viz.log(loss=0.0)
    view.refresh()
    return viz, opt, view


def test_deep_sigmoid_stack_is_flagged_as_vanishing() -> None:
    torch.manual_seed(0)
    viz, opt, view = train_watched(deep_sigmoid())
    flags = diagnose(view.stats.snapshots())
    vanishing = [f.name for f in flags if f.kind == "vanishing"]
    assert "0.weight" in vanishing  # the first layer, furthest from the loss
    assert "24.weight" not in vanishing  # the output layer gets the largest gradient
    assert all(f.kind == "vanishing" for f in flags)
    assert "vanishing" in view.flags.value and "0.weight" in view.flags.value
    assert "ReLU" in view.flags.value  # what to try
    assert view.rms_chart.names[0] == "0.weight" and list(view.bars.x)[0] == "0" and view.bars.color[0] == 1.0
    view.close()


def test_exploding_stack_is_flagged_and_closing_removes_every_hook() -> None:
    torch.manual_seed(0)
    viz, opt, view = train_watched(exploding_linear(), steps=2, lr=1e-9)
    flags = diagnose(view.stats.snapshots())
    assert any(f.kind == "exploding" for f in flags)
    assert "clip_grad_norm_" in view.flags.value
    view.close()
    assert not opt._optimizer_step_pre_hooks and not opt._optimizer_step_post_hooks


def test_healthy_cnn_raises_no_flag(digits_split) -> None:
    torch.manual_seed(0)
    model = nbviz.models.SmallCNN(width=8)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    stats = ParamStats(model, every=1)
    x, y = digits_split.train.tensors[0][:64], digits_split.train.tensors[1][:64]

    class Run:
        step_count = 0

    for _ in range(3):
        manual_step(model, opt, stats, Run, x, y)
    assert diagnose(stats.snapshots()) == []


def test_nan_gradients_unused_layer_and_large_updates() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used = nn.Linear(4, 4)
            self.unused = nn.Linear(4, 4)

        def forward(self, x):
            return self.used(x)

    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=10.0)
    viz = nbviz.watch(model, opt)
    stats = ParamStats(model, every=1).attach(viz)
    x = torch.randn(8, 4)
    opt.zero_grad()
    model(x).pow(2).sum().backward()
    opt.step()
    kinds = {f.name: f.kind for f in diagnose(stats.snapshots())}
    assert kinds == {"used.weight": "large_update", "unused.weight": "no_gradient"}
    opt.zero_grad()
    (model(x) * float("nan")).sum().backward()
    opt.step()
    kinds = {f.name: f.kind for f in diagnose(stats.snapshots(), window=1)}
    assert kinds["used.weight"] == "exploding"
    stats.detach()


def test_views_share_one_recorder_until_the_last_closes() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    viz = nbviz.watch(model, opt)
    first, second = GradientFlow(viz), GradientFlow(viz)
    assert first.stats is second.stats
    assert len(opt._optimizer_step_pre_hooks) == 1
    first.close()
    assert len(opt._optimizer_step_pre_hooks) == 1 and second.stats.attached
    second.close()
    assert not opt._optimizer_step_pre_hooks and not first.stats.attached
    assert context_for(viz).acquire_param_stats("x") is not first.stats  # a fresh one after all closed


def test_bad_window_is_refused() -> None:
    viz = nbviz.watch(nn.Linear(2, 2), torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1))
    with pytest.raises(ValueError, match="window"):
        GradientFlow(viz, window=0)


def test_bars_stand_on_the_log_axis_and_advice_is_given_once() -> None:
    torch.manual_seed(0)
    viz, opt, view = train_watched(deep_sigmoid())
    bars = view.bars
    lo, hi = view.rms_chart.y_scale.min, view.rms_chart.y_scale.max
    heights = np.asarray(bars.y)
    assert 0 < lo < hi and bars.base == lo  # a log axis has no 0 to stand on: NaN heights before
    assert np.isfinite(heights).all() and (heights >= lo).all() and (heights <= hi).all()
    assert view.flags.value.count("What to try") == 1  # one paragraph for all vanishing layers
    assert view.flags.value.count("<li>") >= 2
    ratio = view.ratio_chart
    assert ratio.x_scale.max > ratio.x_scale.min and np.isfinite(np.asarray(view.ratio_lines.y)).all()
    view.close()


def test_resnet18_gradient_view_draws_finite_bars_and_lines() -> None:
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=4)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    viz = nbviz.watch(model, opt)
    view = GradientFlow(viz)
    view.stats.every = 1
    x, y = torch.randn(2, 3, 64, 64), torch.tensor([0, 1])
    for _ in range(2):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        viz.log(loss=0.0)
    view.refresh()
    try:
        assert len(view.bars.x) == 21 and len(set(view.bars.x)) == 21  # conv/linear weights
        assert np.isfinite(np.asarray(view.bars.y)).all()
        lines = np.asarray(view.norm_lines.y)
        assert lines.shape == (21, 2) and np.isfinite(lines).all()
        assert view.norm_chart.x_scale.max > view.norm_chart.x_scale.min
    finally:
        view.close()


def test_one_snapshot_draws_no_zero_length_reference_line() -> None:
    """The 'healthy ~1e-3' reference runs from step 0 to the latest snapshot; with a single
    snapshot at the first step there is none yet (a two-point line of zero length before)."""
    viz, _, view = train_watched(deep_sigmoid(), steps=1)
    try:
        healthy = view.ratio_chart.series["healthy"]
        assert len(healthy.x) == 0 or np.ptp(healthy.x) > 0
        more_viz, _, more = train_watched(deep_sigmoid(), steps=3)
        x = np.asarray(more.ratio_chart.series["healthy"].x)
        assert x[0] == 0 and x[-1] == 3
        more.close()
    finally:
        view.close()
