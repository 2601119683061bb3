"""NetworkDiagram and NetworkCanvas: the edges are the model's weights, every node's
thumbnail is that node's own map, hover enlarges a map (as in DecisionBoundary's unit
grid), training stays bit-identical, and what the front end sends is checked."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from helpers import wait_until
from torch import nn

import nbviz
from nbviz.boundary.grid import GridSpec, compute_maps, hidden_units, mlp_chain
from nbviz.boundary.render import unit_tiles
from nbviz.datasets import toy2d
from nbviz.views.decision_boundary import DecisionBoundary
from nbviz.views.network_diagram import NetworkDiagram
from nbviz.views.playground_model import PlaygroundConfig, build_model
from nbviz.widgets.network import NetworkCanvas


def playground_session(seed: int = 0, **settings) -> nbviz.TrainingSession:
    config = PlaygroundConfig(features=["x1", "x2", "x1*x2"], hidden=[4, 3], seed=seed, **settings)
    data = toy2d("xor", n=200, noise=0.1, seed=seed)
    train, val = data.loaders(batch_size=16, seed=seed)
    return nbviz.TrainingSession(build_model(config), train, val, lr=0.05, epochs=20)


def send(widget, **content) -> None:
    widget._handle_message(widget, content, [])


def test_canvas_sends_weights_as_float32_and_tiles_as_uint8_and_checks_shapes():
    canvas = NetworkCanvas()
    canvas.set_network([2, 3, 2], labels=list("abcdefg"), column_titles=["in", "h", "out"])
    w1, w2 = np.arange(6, dtype=np.float64).reshape(3, 2), -np.ones((2, 3))
    canvas.set_state([w1, w2], np.zeros((7, 5, 5), np.uint8))
    np.testing.assert_array_equal(np.frombuffer(canvas.weights, np.float32), [0, 1, 2, 3, 4, 5, -1, -1, -1, -1, -1, -1])
    assert (canvas.count, canvas.tile_height, canvas.tile_width) == (7, 5, 5) and len(canvas.tiles) == 175
    with pytest.raises(ValueError, match=r"weight matrix 0 has shape \(2, 3\), expected \(3, 2\)"):
        canvas.set_state([w1.T, w2])
    with pytest.raises(ValueError, match="tiles must have shape 7 x H x W"):
        canvas.set_state([w1, w2], np.zeros((6, 5, 5), np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        canvas.set_state([w1, w2], np.zeros((7, 5, 5), np.float32))
    with pytest.raises(ValueError, match="at least two layers"):
        canvas.set_network([3])
    canvas.set_state([np.full((3, 2), np.nan), w2])  # never a non-finite value to the front end
    assert np.isfinite(np.frombuffer(canvas.weights, np.float32)).all()
    hovers: list[int] = []
    clicks: list[int] = []
    canvas.on_hover(hovers.append)
    canvas.on_click(clicks.append)
    for bad in (7, -2, True, "1", None, 1.0):
        send(canvas, type="hover", index=bad)
        send(canvas, type="click", index=bad)
    send(canvas, type="click", index=-1)  # -1 means "left the nodes": a hover only
    send(canvas, type="hover", index=6)
    send(canvas, type="hover", index=-1)
    send(canvas, type="click", index=0)
    assert hovers == [6, -1] and clicks == [0]
    canvas.close()


def test_edges_are_the_weights_and_thumbnails_are_each_nodes_map():
    session = playground_session()
    boundary = DecisionBoundary(session, unit_grid=False)
    diagram = NetworkDiagram(boundary)
    try:
        assert boundary.units_box.layout.display == "none"
        assert diagram.sizes == [3, 4, 3, 2]
        assert diagram.labels[:3] == ["x1", "x2", "x1*x2"] and diagram.labels[-1] == "class 1 score"
        wait_until(lambda: (boundary.refresh(), diagram.refresh(), diagram.canvas.count == 12)[2], 60)
        model = session.model
        linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        expected = np.concatenate([m.weight.detach().numpy().reshape(-1) for m in linears]).astype(np.float32)
        np.testing.assert_array_equal(np.frombuffer(diagram.canvas.weights, np.float32), expected)
        # the node maps: features, hidden units, class scores, on the boundary's own grid
        maps = boundary.maps
        x = boundary.grid.points()
        with torch.no_grad():
            features = model[0](x)
            logits = model(x)
        res = boundary.grid.resolution
        nodes = diagram.node_maps(maps)
        np.testing.assert_allclose(nodes[:3], features.T.reshape(3, res, res).numpy(), atol=1e-6)
        np.testing.assert_allclose(nodes[3:10], maps.units, atol=0)
        np.testing.assert_allclose(nodes[10:], logits.T.reshape(2, res, res).numpy(), atol=1e-5)
        tiles = np.frombuffer(diagram.canvas.tiles, np.uint8).reshape(12, 25, 25)
        np.testing.assert_array_equal(tiles, unit_tiles(nodes)[:, ::4, ::4])
        # hover enlarges a node's full map; leaving clears it; a click keeps one enlarged
        assert diagram.zoom.count == 0
        send(diagram.canvas, type="hover", index=5)
        diagram.refresh()
        assert diagram.zoom.count == 1 and diagram.zoom.tile_height == res
        assert diagram.zoom.caption == "hidden layer 1, unit 2"
        np.testing.assert_array_equal(np.frombuffer(diagram.zoom.data, np.uint8).reshape(res, res), unit_tiles(nodes)[5])
        send(diagram.canvas, type="hover", index=-1)
        diagram.refresh()
        assert diagram.zoom.count == 0
        send(diagram.canvas, type="click", index=11)
        diagram.refresh()
        assert diagram.zoom.caption == "class 1 score" and diagram.canvas.selected == 11
        # the edges follow training
        before = bytes(diagram.canvas.weights)
        session.step(10)
        wait_until(lambda: session.state == "paused" and session.step_count == 10, 60)
        wait_until(lambda: (boundary.refresh(), diagram.refresh(), bytes(diagram.canvas.weights) != before)[2], 60)
        assert boundary.maps.step == 10
    finally:
        diagram.close()
        boundary.close()
        session.stop()
    assert not boundary.record_network and not diagram.canvas._pointer.registered("hover")


def test_decision_boundary_unit_grid_enlarges_the_unit_the_pointer_rests_on():
    session = playground_session()
    view = DecisionBoundary(session)
    try:
        wait_until(lambda: (view.refresh(), view.maps is not None)[1], 60)
        view.refresh()
        assert view.unit_view.count == 0
        send(view.units_view, type="hover", index=2)
        view.refresh()
        assert view.unit_view.count == 1 and view.unit_view.caption.startswith("hidden layer 1, unit 2")
        send(view.units_view, type="click", index=4)  # click keeps one enlarged ...
        send(view.units_view, type="hover", index=-1)  # ... after the pointer leaves
        view.refresh()
        assert view.unit_view.caption.startswith("hidden layer 2, unit 0") and view.units_view.selected == 4
        send(view.units_view, type="hover", index=99)  # not a unit: ignored
        assert view.hovered == -1
    finally:
        view.close()
        session.stop()


class Branchy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.act, self.b, self.skip = nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 2), nn.Linear(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.act(self.a(x))) + self.skip(x)


def test_models_that_are_not_a_plain_mlp_chain_are_refused_with_a_reason():
    model = Branchy()
    grid = GridSpec(-1, 1, -1, 1, 8)
    assert mlp_chain(model, compute_maps(model, grid, hidden_units(model)).unit_names) is None
    data = toy2d("moons", n=100)
    session = nbviz.TrainingSession(model, *data.loaders(batch_size=10))
    boundary = DecisionBoundary(session)
    try:
        with pytest.raises(ValueError, match="plain MLP: Linear -> activation"):
            NetworkDiagram(boundary)
        with pytest.raises(TypeError, match="needs the run's DecisionBoundary"):
            NetworkDiagram(session)  # type: ignore[arg-type]
    finally:
        boundary.close()
    linear_only = nn.Sequential(nn.Linear(2, 2))
    assert mlp_chain(linear_only, []) == [linear_only[0]]


def train(with_diagram: bool, steps: int = 24) -> tuple[dict[str, torch.Tensor], torch.Tensor, int]:
    torch.manual_seed(3)
    session = playground_session(seed=3)
    boundary = DecisionBoundary(session) if with_diagram else None
    diagram = NetworkDiagram(boundary) if boundary is not None else None
    stop = threading.Event()

    def keep_refreshing() -> None:
        while not stop.is_set() and boundary is not None and diagram is not None:
            boundary.refresh()
            diagram.refresh()

    refresher = threading.Thread(target=keep_refreshing, daemon=True)
    if boundary is not None:
        boundary.train_interval, boundary.training_share = 0.0, float("inf")
        refresher.start()
    half = steps // 2
    session.step(half)
    wait_until(lambda: session.state == "paused" and session.step_count == half, 60)
    if diagram is not None:
        wait_until(lambda: diagram.canvas.count > 0 and boundary.maps.step == half, 60)
    session.step(steps - half)
    wait_until(lambda: session.state == "paused" and session.step_count == steps, 60)
    if diagram is not None:  # and one at the end: at least two, whatever the refresher's speed
        wait_until(lambda: boundary.maps.step == steps, 60)
    stop.set()
    drawn = 0
    if diagram is not None and boundary is not None:
        refresher.join(30)
        drawn = boundary.captures
        diagram.close()
        boundary.close()
    session.stop()
    return session.model.state_dict(), torch.get_rng_state(), drawn


def test_training_is_bit_identical_with_the_diagram_open():
    reference, reference_rng, _ = train(False)
    weights, rng, drawn = train(True)
    assert drawn >= 2
    for name, value in reference.items():
        assert torch.equal(weights[name], value), f"{name} differs with the network diagram open"
    assert torch.equal(rng, reference_rng)
