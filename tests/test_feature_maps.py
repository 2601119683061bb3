"""FeatureMaps view and the ImageGrid widget: validation, caching, linking, vector fallback."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
import torchvision
import traitlets
from helpers import TutorialCNN
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import nbviz
from nbviz.models import SmallCNN
from nbviz.probes.capture import nbviz_hooks
from nbviz.views.context import context_for
from nbviz.views.feature_maps import FeatureMaps, input_tile
from nbviz.views.unit_activations import UnitActivations
from nbviz.widgets.image_grid import ImageGrid
from nbviz.widgets.images import to_uint8


def make_session(model: nn.Module, shape: tuple[int, ...], n: int = 32, epochs: int = 1) -> nbviz.TrainingSession:
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(n, *shape), torch.randint(0, 10, (n,)))
    return nbviz.TrainingSession(model, DataLoader(data, batch_size=8), epochs=epochs)


@pytest.fixture
def view():
    session = make_session(SmallCNN(), (1, 28, 28))
    fm = FeatureMaps(session, probe_size=4)
    fm.refresh(wait=True)
    yield fm
    fm.close()


# ---- ImageGrid --------------------------------------------------------------------------
def test_image_grid_sends_one_buffer_with_its_shape():
    grid = ImageGrid()
    tiles = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    grid.set_tiles(tiles, labels=["a", "b"], selected=1)
    assert (grid.count, grid.tile_height, grid.tile_width, grid.channels) == (2, 3, 4, 1)
    assert grid.data == tiles.tobytes() and grid.labels == ["a", "b"] and grid.selected == 1
    tiles[:] = 0  # the widget holds a copy
    assert grid.data != tiles.tobytes()
    grid.set_tiles(np.zeros((1, 5, 5, 3), np.uint8))
    assert grid.channels == 3 and len(grid.data) == 75


def test_image_grid_refuses_bad_tiles_and_values():
    grid = ImageGrid()
    with pytest.raises(TypeError, match="must be uint8.*to_uint8"):
        grid.set_tiles(np.zeros((2, 3, 3), np.float32))
    with pytest.raises(ValueError, match="N x H x W or N x H x W x 3"):
        grid.set_tiles(np.zeros((2, 3, 3, 2), np.uint8))
    with pytest.raises(ValueError, match="3 labels for 2 tiles"):
        grid.set_tiles(np.zeros((2, 3, 3), np.uint8), labels=["a", "b", "c"])
    with pytest.raises(traitlets.TraitError, match="unknown colormap 'jet'"):
        grid.colormap = "jet"
    assert grid.colormap == "gray"
    with pytest.raises(traitlets.TraitError):
        grid.tile_size = 0


def test_image_grid_click_reports_only_valid_tile_indices():
    grid = ImageGrid()
    grid.set_tiles(np.zeros((3, 2, 2), np.uint8))
    clicked: list[int] = []
    grid.on_click(clicked.append)
    for content in ({"type": "click", "index": 2}, {"type": "click", "index": 3}, {"type": "click", "index": -1},
                    {"type": "click", "index": "1"}, {"type": "click", "index": True}, {"type": "other"}, "junk"):
        grid._handle_message(grid, content, [])
    assert clicked == [2]
    grid.on_click(clicked.append, remove=True)
    grid._handle_message(grid, {"type": "click", "index": 0}, [])
    assert clicked == [2]


def test_to_uint8_per_tile_per_layer_symmetric_and_degenerate():
    values = torch.stack([torch.zeros(2, 2), torch.full((2, 2), 10.0)])
    values[0, 0, 0] = 1.0
    per_tile = to_uint8(values, per_tile=True)
    assert per_tile[0, 0, 0] == 255 and per_tile[0, 1, 1] == 0
    assert (per_tile[1] == 0).all()  # a constant tile
    per_layer = to_uint8(values, per_tile=False)
    assert per_layer[1, 0, 0] == 255 and per_layer[0, 0, 0] == 26
    signed = to_uint8(np.array([[[-2.0, 0.0, 2.0]]]), symmetric=True)
    assert signed.tolist() == [[[0, 128, 255]]]
    nan = to_uint8(np.array([[[np.nan, 1.0, 3.0]]]))
    assert nan.dtype == np.uint8 and nan[0, 0, 2] == 255
    with pytest.raises(ValueError, match="N x H x W"):
        to_uint8(np.zeros((3, 3)))


def test_input_tile_colour_grey_and_flat_square():
    assert input_tile(torch.randn(3, 8, 8)).shape == (1, 8, 8, 3)
    assert input_tile(torch.randn(1, 8, 8)).shape == (1, 8, 8)
    assert input_tile(torch.randn(64)).shape == (1, 8, 8)
    assert input_tile(torch.randn(10)) is None


# ---- FeatureMaps ----------------------------------------------------------------------------
def test_shows_every_channel_of_the_first_conv_and_the_input(view):
    assert view.layer == "features.0.0"
    assert list(view.layers)[:2] == ["features.0.0", "features.0.1"]
    assert "classifier.1" not in view.layers  # vector layers are not offered for feature maps
    assert (view.grid.count, view.grid.tile_height, view.grid.tile_width) == (16, 28, 28)
    assert view.channel_view.count == 1 and view.input_view.count == 1
    assert view.channel_slider.max == 15
    assert "step 0" in view.status.value


def test_channel_switch_slices_the_cache_without_a_forward_pass(view):
    captures, data = view.captures, view.grid.data
    assert view.select(channel=5)
    view.refresh(wait=True)
    assert view.captures == captures
    assert view.grid.selected == 5 and view.channel_slider.value == 5
    assert view.grid.data == data  # the grid is not resent for a channel switch
    assert view.channel_view.data == data[5 * 28 * 28:6 * 28 * 28]
    assert context_for(view.session).selection.channel == 5


def test_layer_switch_captures_once_and_clamps_the_channel(view):
    view.select(layer="features.2.0", channel=31)  # 32 channels at 14x14
    view.refresh(wait=True)
    assert (view.grid.count, view.grid.tile_height) == (32, 14)
    assert view.channel == 31 and view.channel_slider.max == 31
    captures = view.captures
    view.select(layer="features.0.0")
    view.refresh(wait=True)
    assert view.captures == captures + 1
    assert view.channel == 15 and view.channel_slider.value == 15 and view.grid.count == 16


def test_front_end_values_are_validated_and_the_old_value_kept(view):
    assert not view.select(layer="features.9")
    assert view.layer == "features.0.0"
    view.refresh(wait=True)
    assert "features.9" in view.status.value and "kept" in view.status.value
    assert not view.select(channel=16) and view.channel == 0
    assert not view.select(channel=True) and view.channel == 0
    assert not view.select(sample=4) and view.sample == 0
    assert not view.select(normalise="global") and not view.select(colormap="jet")
    view.grid._handle_message(view.grid, {"type": "click", "index": 99}, [])
    assert view.channel == 0
    view.grid._handle_message(view.grid, {"type": "click", "index": 3}, [])  # a tile click selects
    view.refresh(wait=True)
    assert view.channel == 3 and view.channel_slider.value == 3
    assert "kept" not in view.status.value


def test_widgets_drive_the_view(view):
    view.layer_select.value = "features.1"
    view.sample_slider.value = 2
    view.normalise_toggle.value = "layer"
    view.colormap_select.value = "magma"
    view.refresh(wait=True)
    assert (view.layer, view.sample) == ("features.1", 2)
    assert view.grid.count == 16 and view.grid.tile_height == 14
    assert view.grid.colormap == view.channel_view.colormap == "magma"
    assert "sample 2" in view.input_view.caption
    tiles = np.frombuffer(view.grid.data, np.uint8).reshape(16, 14, 14)
    assert tiles.max() == 255 and (tiles.reshape(16, -1).max(1) < 255).any()  # one range for the layer


def test_follows_the_shared_selection_and_ignores_non_spatial_layers(view):
    selection = context_for(view.session).selection
    selection.layer = "features.2.1"
    view.refresh(wait=True)
    assert view.layer == "features.2.1" and view.layer_select.value == "features.2.1"
    selection.layer = "classifier.1"
    view.refresh(wait=True)
    assert view.layer == "features.2.1"
    assert "has no spatial output" in view.status.value
    selection.channel = 7
    assert view.channel == 7


def test_close_stops_following_the_selection(view):
    view.close()
    context_for(view.session).selection.layer = "features.1"
    assert view.layer == "features.0.0"
    assert nbviz_hooks(view.session.model) == []


def test_constructor_refuses_bad_arguments():
    session = make_session(SmallCNN(), (1, 28, 28))
    with pytest.raises(ValueError, match="probe_size"):
        FeatureMaps(session, probe_size=0)
    with pytest.raises(ValueError, match="colormap"):
        FeatureMaps(session, colormap="jet")
    with pytest.raises(ValueError, match="normalise"):
        FeatureMaps(session, normalise="batch")
    with pytest.raises(ValueError, match="'classifier.1' is not a layer with spatial output.*features.0.0"):
        FeatureMaps(session, layer="classifier.1")


def test_resnet18_layers_and_colour_input():
    session = make_session(torchvision.models.resnet18(weights=None, num_classes=10), (3, 64, 64), n=8)
    view = FeatureMaps(session, layer="layer1.0.conv1", probe_size=2)
    try:
        view.refresh(wait=True)
        assert view.input_view.channels == 3
        assert (view.grid.count, view.grid.tile_height) == (64, 16)
        view.select(layer="layer3.1.bn2", channel=200)
        view.refresh(wait=True)
        assert (view.grid.count, view.grid.tile_height, view.grid.selected) == (256, 4, 200)
    finally:
        view.close()
    assert nbviz_hooks(session.model) == []


def test_updates_while_training_runs():
    session = make_session(SmallCNN(), (1, 28, 28), n=256, epochs=3)
    view = FeatureMaps(session, probe_size=2)
    view.train_interval = 0.0
    try:
        view.refresh(wait=True)
        first = view.grid.data
        session.start()
        deadline = time.monotonic() + 20
        while view._cache_step < 3 and time.monotonic() < deadline and session.state == "running":
            view.refresh(wait=True)
            time.sleep(0.02)
        session.wait(60)
        view.refresh(wait=True)
        assert view._cache_step > 0
        assert view.grid.data != first
    finally:
        view.close()
    assert nbviz_hooks(session.model) == []


def test_vector_only_model_is_refused_with_the_view_to_use_and_units_show_it():
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    session = make_session(mlp, (1, 8, 8))
    with pytest.raises(ValueError, match="no layer with a spatial.*nbviz.UnitActivations"):
        FeatureMaps(session, probe_size=2)
    view = UnitActivations(session, probe_size=2)
    try:
        view.refresh()
        assert view.layer == "2"  # the last hidden layer (the ReLU after the first Linear)
        assert len(view.bars.y) == 32 and np.isfinite(view.bars.y).all()
        view.layer_select.set_state({"index": 0})  # the flatten: 64 values, from the front end
        view.refresh()
        assert view.layer == "0" and len(view.bars.y) == 64
        assert view.input_view.count == 1  # the flat 64 input is shown as 8x8
    finally:
        view.close()


def record_messages(widget) -> list[tuple[dict, int]]:
    """(state sent, number of binary buffers) of every update the widget sends."""
    sent: list[tuple[dict, int]] = []
    widget._send = lambda msg, buffers=None: sent.append((msg.get("state", {}), len(buffers or [])))
    return sent


def test_one_message_and_one_buffer_per_grid_update(view):
    grid, channel = record_messages(view.grid), record_messages(view.channel_view)
    view.select(channel=2)
    view.refresh(wait=True)
    assert grid == [({"selected": 2}, 0)]  # no pixels resent for a channel switch
    assert len(channel) == 1 and channel[0][1] == 1
    grid.clear()
    view.select(layer="features.2.0")
    view.refresh(wait=True)
    assert len(grid) == 1
    state, buffers = grid[0]
    assert buffers == 1 and {"count", "tile_height", "tile_width"} <= set(state)


def test_works_with_a_plain_loop_watch():
    torch.manual_seed(0)
    model = SmallCNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    data = DataLoader(TensorDataset(torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))), batch_size=16)
    viz = nbviz.watch(model, optimizer, probe_data=data)
    view = FeatureMaps(viz, probe_size=2)
    try:
        def loop() -> None:
            for x, y in viz.batches(data):
                optimizer.zero_grad()
                nn.functional.cross_entropy(model(x), y).backward()
                optimizer.step()
                viz.log(loss=0.0)
                view.refresh()  # probes submitted from the loop's own thread run at once

        viz.run_in_thread(loop)
        viz.wait()
        view.refresh(wait=True)
        assert view.grid.count == 16 and view.captures >= 1
    finally:
        view.close()
    assert nbviz_hooks(model) == []


def test_a_broken_model_opens_with_the_layers_before_the_failure_and_says_why():
    session = make_session(TutorialCNN(), (1, 28, 28))
    view = FeatureMaps(session, probe_size=2)
    try:
        view.refresh(wait=True)
        assert list(view.layers) == ["conv1", "conv2", "pool"]
        assert view.grid.count == 32
        assert "64×6×6 = 2304 features reach fc1, which expects 3136 = 64×7×7" in view.status.value
    finally:
        view.close()
