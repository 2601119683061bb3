"""DecisionBoundary: the map is the model's own predictions, unit maps are the units'
activations, training is bit-identical with the view open, bad input is refused clearly."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from helpers import make_loader, wait_until
from torch import nn

import nbviz
from nbviz.boundary.grid import GridSpec, compute_maps, hidden_units
from nbviz.boundary.render import class_colours, map_colours, render_map, unit_tiles
from nbviz.datasets import toy2d
from nbviz.models import SmallCNN
from nbviz.probes.capture import nbviz_hooks
from nbviz.views.decision_boundary import DecisionBoundary


def mlp(seed: int = 0, depth: int = 2) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = [nn.Linear(2, 8), nn.Tanh()]
    for _ in range(depth - 1):
        layers += [nn.Linear(8, 8), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(8, 2))


def session_for(model: nn.Module, kind: str = "spiral", **kwargs) -> nbviz.TrainingSession:
    data = toy2d(kind, n=200, noise=0.1)
    train, val = data.loaders(batch_size=16)
    return nbviz.TrainingSession(model, train, val, lr=0.05, **kwargs)


def test_map_is_the_models_own_prediction_on_every_grid_point():
    model = mlp()
    grid = GridSpec(-3.0, 4.0, -2.0, 5.0, 100)
    maps = compute_maps(model, grid, hidden_units(model))
    with torch.no_grad():
        expected = torch.softmax(model(grid.points()), 1).reshape(100, 100, 2).numpy()
    np.testing.assert_allclose(maps.probabilities, expected, atol=1e-6)
    # Grid layout: row 0 is the top (y_max), column 0 the left (x_min).
    assert torch.allclose(grid.points()[0], torch.tensor([-3.0, 5.0]))
    assert torch.allclose(grid.points()[99], torch.tensor([4.0, 5.0]))
    # Discretized, each pixel is the colour of the model's predicted class.
    colours = map_colours(maps.probabilities, discretize=True, uncertainty=False)
    predicted = expected.argmax(-1)
    base = 255.0 + (class_colours(2) - 255.0) * 0.85
    np.testing.assert_allclose(colours, base[predicted], atol=1e-4)
    # A linear model with a known boundary (x = 0.5): class 0 left of it, class 1 right of it.
    linear = nn.Linear(2, 2)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[-1.0, 0.0], [1.0, 0.0]]))
        linear.bias.copy_(torch.tensor([0.5, -0.5]))
    known = compute_maps(linear, GridSpec(0.0, 1.0, 0.0, 1.0, 11), []).probabilities.argmax(-1)
    assert (known[:, :5] == 0).all() and (known[:, 6:] == 1).all()


def test_unit_maps_equal_the_unit_activations():
    model = mlp(depth=3)
    grid = GridSpec(-1.0, 1.0, -1.0, 1.0, 20)
    units = hidden_units(model)
    assert [name for name, _ in units] == ["1", "3", "5"]
    maps = compute_maps(model, grid, units)
    assert maps.units.shape == (24, 20, 20) and maps.unit_names[0] == "1[0]" and maps.unit_names[8] == "3[0]"
    with torch.no_grad():
        x = grid.points()
        first = model[1](model[0](x))
        second = model[3](model[2](first))
    np.testing.assert_allclose(maps.units[:8], first.T.reshape(8, 20, 20).numpy(), atol=1e-6)
    np.testing.assert_allclose(maps.units[8:16], second.T.reshape(8, 20, 20).numpy(), atol=1e-6)
    tiles = unit_tiles(maps.units)
    assert tiles.dtype == np.uint8 and tiles.shape == (24, 20, 20)
    assert not any(module._forward_hooks for module in model.modules())


def test_one_output_models_and_models_without_activation_modules():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 4), nn.Linear(4, 1))  # logistic output, no activation module
    grid = GridSpec(-1.0, 1.0, -1.0, 1.0, 10)
    maps = compute_maps(model, grid, hidden_units(model))
    with torch.no_grad():
        p = torch.sigmoid(model(grid.points())).reshape(10, 10)
    np.testing.assert_allclose(maps.probabilities[..., 1], p.numpy(), atol=1e-6)
    assert maps.units.shape == (4, 10, 10)


def test_render_draws_points_in_their_class_colour():
    grid = GridSpec(0.0, 1.0, 0.0, 1.0, 10)
    probs = np.full((10, 10, 2), 0.5, np.float32)
    image = render_map(probs, grid, np.array([[0.5, 0.5]]), np.array([1]), np.array([False]), scale=3)
    assert image.shape == (30, 30, 3) and image.dtype == np.uint8
    centre = grid.to_pixels(np.array([[0.5, 0.5]]), 30)[0]
    assert tuple(image[centre[0], centre[1]]) == tuple(class_colours(2)[1].astype(np.uint8))


@pytest.mark.parametrize(("args", "match"), [((7,), "resolution must be a whole number from 8 to 400"),
                                             ((401,), "resolution"), ((1.5,), "resolution")])
def test_bad_resolution_is_refused(args, match):
    session = session_for(mlp())
    with pytest.raises(ValueError, match=match):
        DecisionBoundary(session, *args)


def test_image_models_are_refused_with_what_the_view_needs():
    session = nbviz.TrainingSession(SmallCNN(), make_loader(64), make_loader(32, shuffle=False))
    with pytest.raises(ValueError, match=r"inputs are 2-D points.*\(1, 28, 28\).*DecisionPlane.*three chosen images"):
        DecisionBoundary(session)
    assert nbviz_hooks(session.model) == []


def test_a_model_that_cannot_take_2d_points_is_refused():
    session = session_for(nn.Sequential(nn.Linear(3, 2)))
    with pytest.raises(ValueError, match="could not be run on 2-D grid points"):
        DecisionBoundary(session)


def test_view_draws_map_and_units_and_enlarges_a_clicked_unit():
    session = session_for(mlp())
    view = DecisionBoundary(session)
    try:
        view.refresh()
        assert view.maps is not None and view.map_view.count == 1
        assert (view.map_view.tile_height, view.map_view.tile_width) == (300, 300)
        assert view.units_view.count == 16 and view.units_view.labels[0] == "hidden layer 1, unit 0 (1)"
        before = bytes(view.map_view.data)
        view.discretize = True
        view.refresh()
        assert bytes(view.map_view.data) != before
        view.units_view._handle_message(view.units_view, {"type": "click", "index": 5}, [])
        assert view.unit == 5
        view.refresh()
        assert view.unit_view.count == 1 and view.unit_view.caption == "hidden layer 1, unit 5 (1)"
        assert view.units_view.selected == 5
        # The map changes while training.
        session.step(20)
        wait_until(lambda: session.state == "paused" and session.step_count == 20, 60)
        first = view.maps.probabilities.copy()
        wait_until(lambda: (view.refresh(), view.maps.step == 20)[1], 60)
        assert not np.allclose(view.maps.probabilities, first)
    finally:
        view.close()
        session.stop()


def train(open_view: bool, steps: int = 30) -> tuple[dict[str, torch.Tensor], torch.Tensor, int]:
    torch.manual_seed(1)
    session = session_for(mlp(seed=1, depth=3), epochs=10)
    view = DecisionBoundary(session) if open_view else None
    stop = threading.Event()

    def keep_refreshing() -> None:
        while not stop.is_set() and view is not None:
            view.refresh()

    refresher = threading.Thread(target=keep_refreshing, daemon=True)
    if view is not None:
        view.train_interval = 0.0
        view.training_share = float("inf")  # a grid pass at every refresh, to stress the probe rules
        refresher.start()
    half = steps // 2
    session.step(half)
    wait_until(lambda: session.state == "paused" and session.step_count == half, 60)
    if view is not None:  # one map surely drawn between the halves, even on a loaded machine
        wait_until(lambda: view.maps is not None and view.maps.step == half, 60)
    session.step(steps - half)
    wait_until(lambda: session.state == "paused" and session.step_count == steps, 60)
    if view is not None:  # and one at the end: at least two, whatever the refresher's speed
        wait_until(lambda: view.maps is not None and view.maps.step == steps, 60)
    stop.set()
    captures = 0
    if view is not None:
        refresher.join(30)
        captures = view.captures
        view.close()
    session.stop()
    return session.model.state_dict(), torch.get_rng_state(), captures


def test_training_is_bit_identical_with_the_view_open():
    reference, reference_rng, _ = train(False)
    weights, rng, captures = train(True)
    assert captures >= 2, "the view should have drawn the map several times while training"
    for name, value in reference.items():
        assert torch.equal(weights[name], value), f"{name} differs with the decision boundary open"
    assert torch.equal(rng, reference_rng)


def test_dashboard_tab_opens_for_an_mlp_and_explains_itself_for_a_cnn():
    from nbviz.views.base import widget_tree

    session = session_for(mlp())
    board = nbviz.Dashboard(session, tabs=["Decision boundary"])
    view = board.view("Decision boundary")
    assert isinstance(view, DecisionBoundary)
    view.refresh()
    made = widget_tree(view)
    assert len(made) > 10
    board.close()
    assert view.closed and not view.units_view._pointer.registered("click")
    assert not view.units_view._pointer.registered("hover")
    assert all(widget.comm is None for widget in made), "a widget of the view is still open"
    assert view not in list(view.context.pump._views)
    cnn = nbviz.TrainingSession(SmallCNN(), make_loader(64), make_loader(32, shuffle=False))
    board = nbviz.Dashboard(cnn, tabs=["Decision boundary"])
    with pytest.raises(ValueError, match="2-D points"):
        board.view("Decision boundary")
    assert "could not open" in board.tabs.children[1].value
    board.close()
