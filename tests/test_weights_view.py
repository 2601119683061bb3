"""Weights view: filters, heat map redrawn only on request, histogram look-back, linking, cleanup."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import nbviz
from nbviz.models import MnistCNN
from nbviz.views.context import context_for
from nbviz.views.weights import Weights, as_matrix, filter_tiles


def watched(model: nn.Module):
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    viz = nbviz.watch(model, opt)
    return viz, opt


def train(viz, opt, model, x, y, steps: int) -> None:
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        viz.log(loss=0.0)


def settle(view, viz) -> None:
    """refresh(), let the loop reach a batch boundary (where copies are taken), refresh()."""
    view.refresh()
    viz.checkpoint()
    view.refresh()


@pytest.fixture
def mnist():
    torch.manual_seed(0)
    model = MnistCNN()
    viz, opt = watched(model)
    view = Weights(viz)
    view.active = False  # the test drives refresh() itself
    view.stats.every = 1
    yield model, viz, opt, view
    view.close()


def test_filters_heat_map_and_histograms(mnist) -> None:
    model, viz, opt, view = mnist
    train(viz, opt, model, torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,)), 4)
    settle(view, viz)
    assert view.filters.count == 32 and view.filters.channels == 1
    assert (view.filters.tile_height, view.filters.tile_width) == (3, 3)
    assert "conv1.weight (32, 1, 3, 3) at step 4" in view.ax.get_title()
    assert view.histograms.param.value == "conv1.weight"
    assert view.histograms.slider.max == 3 and "step 4" in view.histograms.step_label.value
    assert view.histograms.bars.y.sum() == pytest.approx(1.0, abs=1e-5)


def test_heat_map_redraws_only_on_layer_change_or_button(mnist) -> None:
    model, viz, opt, view = mnist
    draws = []
    original = view.draw_matrix
    view.draw_matrix = lambda *args: (draws.append(args[0]), original(*args))
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    settle(view, viz)
    for _ in range(3):
        train(viz, opt, model, x, y, 1)
        settle(view, viz)
    assert draws == ["conv1"]  # the first draw only: training does not redraw it
    view.redraw.click()
    settle(view, viz)
    assert draws == ["conv1", "conv1"] and "at step 3" in view.ax.get_title()
    view.layer.value = "fc2"
    settle(view, viz)
    assert draws[-1] == "fc2" and view.ax.images[0].get_array().shape == (10, 128)


def test_layer_follows_selection_both_ways(mnist) -> None:
    model, viz, opt, view = mnist
    selection = context_for(viz).selection
    selection.layer = "fc1"
    settle(view, viz)
    assert view.layer.value == "fc1" and view.histograms.param.value == "fc1.weight"
    view.layer.value = "conv2"
    assert selection.layer == "conv2"
    selection.layer = "relu1"  # no weights: the view keeps its layer
    settle(view, viz)
    assert view.layer.value == "conv2"


def test_slider_looks_back_and_stays_there(mnist) -> None:
    model, viz, opt, view = mnist
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    train(viz, opt, model, x, y, 5)
    settle(view, viz)
    view.histograms.kind.value = "gradients"
    view.histograms.slider.value = 1
    settle(view, viz)
    assert view.histograms.step_label.value.startswith("step 2 ")
    train(viz, opt, model, x, y, 2)
    settle(view, viz)
    assert view.histograms.slider.value == 1 and view.histograms.slider.max == 6
    view.histograms.slider.value = 6  # back to the newest: follows again
    train(viz, opt, model, x, y, 1)
    settle(view, viz)
    assert view.histograms.slider.value == 7


def test_colour_filters_for_three_channel_input_and_closing_cleans_up() -> None:
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=4)
    viz, opt = watched(model)
    view = Weights(viz)
    view.active = False
    settle(view, viz)
    assert view.filters.channels == 3 and view.filters.count == 64
    assert (view.filters.tile_height, view.filters.tile_width) == (7, 7)
    context_for(viz).selection.layer = "layer1.0"  # a block: its first weighted layer is shown
    settle(view, viz)
    assert view.layer.value == "layer1.0.conv1"
    view.close()
    assert not opt._optimizer_step_pre_hooks and not opt._optimizer_step_post_hooks
    assert not any(m._forward_hooks for m in model.modules())


def test_mobilenet_and_helpers() -> None:
    import torchvision

    model = torchvision.models.mobilenet_v3_small(weights=None, num_classes=4)
    viz, opt = watched(model)
    view = Weights(viz)
    view.active = False
    train(viz, opt, model, torch.randn(2, 3, 32, 32), torch.tensor([0, 1]), 1)
    settle(view, viz)
    assert view.filters.channels == 3 and view.histograms.param.options
    view.close()
    tiles, caption = filter_tiles(torch.randn(8, 5, 3, 3))
    assert tiles.shape == (8, 3, 3) and "mean over the 5" in caption
    with pytest.raises(ValueError, match="4-d"):
        filter_tiles(torch.randn(8, 5))
    assert as_matrix(np.zeros((4, 2, 3, 3))).shape == (4, 18)
    assert as_matrix(np.zeros(5)).shape == (1, 5)


def test_model_without_conv_says_so() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    viz, opt = watched(model)
    view = Weights(viz)
    view.active = False
    settle(view, viz)
    assert "no Conv2d" in view.message.value and view.layer.value == "0"
    view.close()


def test_snapshot_histogram_axis_runs_forward_over_the_values(mnist) -> None:
    model, viz, opt, view = mnist
    train(viz, opt, model, torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,)), 3)
    settle(view, viz)
    hist = view.histograms
    centres = np.asarray(hist.bars.x)
    lo, hi = hist.bars_x.min, hist.bars_x.max
    assert lo < hi  # left to right, not +100 ... -100
    assert lo <= centres.min() and centres.max() <= hi
    data_span = centres.max() - centres.min()
    assert hi - lo < 2 * data_span + 1e-6  # about as wide as the data, not 100x wider
    assert hist.bars_y.min == 0 and hist.bars_y.max >= np.asarray(hist.bars.y).max()


def test_slider_follows_the_newest_snapshot_after_a_layer_change() -> None:
    class TwoHeads(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(4, 3), nn.Linear(4, 3)
            self.use_b = False

        def forward(self, x):
            return self.a(x) + (self.b(x) if self.use_b else 0)

    model = TwoHeads()
    viz, opt = watched(model)
    view = Weights(viz)
    view.active = False
    view.stats.every = 1
    hist = view.histograms
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    train(viz, opt, model, x, y, 3)
    model.use_b = True  # b gets gradients from now on: fewer gradient snapshots than a
    train(viz, opt, model, x, y, 3)
    hist.kind.value = "gradients"
    settle(view, viz)
    assert hist.param.value == "a.weight" and hist.slider.value == hist.slider.max == 5
    view.layer.value = "b"  # its fewer snapshots lower the slider's max: value clamped first
    settle(view, viz)
    assert hist.param.value == "b.weight" and hist.slider.value == hist.slider.max
    train(viz, opt, model, x, y, 2)
    settle(view, viz)
    assert hist.slider.value == hist.slider.max  # still the newest
    assert hist.step_label.value.startswith(f"step {viz.step_count} ")
    view.close()


def test_heat_map_stays_bounded_on_a_long_run(mnist, monkeypatch) -> None:
    from nbviz.views import param_histograms

    model, viz, opt, view = mnist
    x, y = torch.randn(4, 1, 28, 28), torch.randint(0, 10, (4,))
    train(viz, opt, model, x, y, 150)
    settle(view, viz)
    heat = view.histograms.heat
    assert len(heat.column) <= param_histograms.MAX_COLUMNS
    assert np.asarray(heat.color).size <= param_histograms.MAX_COLUMNS * param_histograms.GRID_BINS
    sent = heat.color
    # the redraw interval outlasts the next steps however slow the machine (5 s did not, surely)
    monkeypatch.setattr(param_histograms, "HEAT_INTERVAL", 3600.0)
    train(viz, opt, model, x, y, 5)
    settle(view, viz)
    assert heat.color is sent  # new snapshots redraw the heat map at most every few seconds
    assert view.histograms.slider.value == view.histograms.slider.max


def test_resnet18_weights_view_draws_finite_histograms() -> None:
    import torchvision

    model = torchvision.models.resnet18(weights=None, num_classes=4)
    viz, opt = watched(model)
    view = Weights(viz)
    view.active = False
    view.stats.every = 1
    train(viz, opt, model, torch.randn(2, 3, 64, 64), torch.tensor([0, 1]), 2)
    view.layer.value = "layer4.1.conv2"
    settle(view, viz)
    hist = view.histograms
    assert hist.param.value == "layer4.1.conv2.weight"
    assert np.isfinite(np.asarray(hist.bars.y)).all() and hist.bars_x.min < hist.bars_x.max
    view.close()


def test_heat_map_step_ticks_are_whole_round_and_enough() -> None:
    from nbviz.views.param_histograms import step_ticks

    assert list(step_ticks(1.0, 101.5)) == [20, 40, 60, 80, 100]  # not 1, 26.125, 51.25, ...
    assert list(step_ticks(0.0, 3.0)) == [0, 1, 2, 3]
    for lo, hi in ((1.0, 2.5), (7.0, 133.0), (50.0, 5000.0), (0.0, 1.0)):
        ticks = step_ticks(lo, hi)
        assert len(ticks) >= min(4, int(hi - lo) + 1) and (ticks == ticks.round()).all()
        assert lo <= ticks.min() and ticks.max() <= hi and len(set(np.diff(ticks))) <= 1


def test_wait_drawn_returns_once_the_chosen_layer_is_on_the_heat_map() -> None:
    torch.manual_seed(0)
    model = MnistCNN()
    viz, _ = watched(model)
    view = Weights(viz)  # refreshed by the pump, as in a notebook
    try:
        view.wait_drawn(timeout=60)
        view.layer.value = "fc2"
        view.wait_drawn(timeout=60)
        assert view.ax is not None and view.ax.get_title().startswith("fc2.weight")
    finally:
        view.close()
