"""ModelStructure view and the data-flow graph: rows, fx graph with residuals, fallback, linking."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from helpers import TutorialCNN
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import nbviz
from nbviz.models import MnistCNN, ShapesCNN, SmallCNN
from nbviz.probes.capture import discover_layers, nbviz_hooks
from nbviz.probes.graph import module_graph
from nbviz.views.context import context_for
from nbviz.views.feature_maps import FeatureMaps
from nbviz.views.structure import ModelStructure, layer_rows


class Branchy(nn.Module):
    """forward depends on the data: torch.fx cannot trace it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.pos = nn.ReLU()
        self.neg = nn.Tanh()
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 8 * 8, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        y = self.pos(y) if y.mean() > -100 else self.neg(y)
        return self.head(y)


def make_session(model: nn.Module, shape: tuple[int, ...]) -> nbviz.TrainingSession:
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(16, *shape), torch.randint(0, 10, (16,)))
    return nbviz.TrainingSession(model, DataLoader(data, batch_size=8), epochs=1)


def test_fx_graph_of_a_residual_model_shows_the_skip_connection():
    graph = module_graph(ShapesCNN())
    assert graph.traced
    ids = {node.id: node for node in graph.nodes}
    assert ids["x"].kind == "input" and ids["output"].kind == "output"
    assert ids["add"].kind == "function"
    assert ("stem_2", "add") in graph.edges  # the block input skips the two convolutions
    assert ("stem_2", "add") in graph.residual_edges()
    assert ("block1_bn2", "add") in graph.edges
    assert [graph.nodes[i].module for i in graph.nodes_of("block1")][:2] == ["block1.conv1", "block1.bn1"]


def test_resnet18_graph_has_downsample_branches_side_by_side():
    graph = module_graph(torchvision.models.resnet18(weights=None))
    modules = {node.module for node in graph.nodes}
    assert {"layer2.0.downsample.0", "layer4.1.conv2", "fc"} <= modules
    assert len(graph.nodes_of("layer1.0.relu")) == 2  # the reused ReLU is called twice
    assert max(node.lane for node in graph.nodes) >= 1  # the downsample runs beside the convs
    assert len([e for e in graph.residual_edges() if e[1].startswith("add")]) == 8


def test_sequential_models_trace_to_a_chain():
    graph = module_graph(MnistCNN())
    assert graph.traced and not graph.residual_edges()
    assert [node.label for node in graph.nodes][:3] == ["input", "conv1", "relu1"]


def test_untraceable_model_falls_back_to_execution_order_and_says_why():
    model = Branchy()
    graph = module_graph(model, discover_layers(model, torch.randn(1, 1, 8, 8)))
    assert not graph.traced
    assert "could not trace Branchy" in graph.reason and "order they ran" in graph.reason
    assert [node.label for node in graph.nodes] == ["input", "conv", "pos", "head.0", "head.1", "output"]
    assert graph.edges[0] == ("input", "conv")


def test_layer_rows_cover_every_module_with_shape_params_and_trainable():
    model = Branchy()
    model.conv.weight.requires_grad_(False)
    rows = {row["name"]: row for row in layer_rows(model, discover_layers(model, torch.randn(1, 1, 8, 8)))}
    assert rows["conv"]["output"] == "4x8x8" and rows["conv"]["params"] == 4 * 9 + 4
    assert rows["conv"]["trainable"] == "partly"
    assert rows["neg"]["output"] == "not run"
    assert rows["pos"]["trainable"] == "-"
    assert rows["head"]["params"] == 256 * 10 + 10 and rows["head"]["trainable"] == "yes"
    assert rows["head.1"]["depth"] == 1


def test_table_and_graph_select_the_layer_for_the_feature_maps():
    session = make_session(SmallCNN(), (1, 28, 28))
    structure = ModelStructure(session)
    maps = FeatureMaps(session, probe_size=2)
    try:
        assert len(structure.table.options) == len(list(session.model.named_modules())) - 1
        structure.table.value = "features.2.0"  # as a click in the table does
        assert context_for(session).selection.layer == "features.2.0"
        assert maps.layer == "features.2.0"
        node = structure.graph.nodes_of("features.1")[0]
        mark = structure.graph_mark
        # what bqplot's front end sends for a click on a node's marker: the point's datum
        datum = {"x": float(mark.x[node]), "y": float(mark.y[node]), "index": node, "unique_id": f"Dot{node}"}
        mark._handle_custom_msgs(mark, {"event": "element_click", "data": datum}, [])
        assert maps.layer == "features.1"
        for bad in ({"index": 999}, {"index": "1"}, {"index": True}, None, "x"):
            mark._handle_custom_msgs(mark, {"event": "element_click", "data": bad}, [])
        mark._handle_custom_msgs(mark, {"event": "element_click", "index": 0}, [])  # not bqplot's shape
        assert maps.layer == "features.1"
        structure.refresh()
        assert structure.table.value == "features.1"
        assert list(structure.graph_mark.selected) == [node]
        maps.select(layer="features.0")  # the other direction: the table follows
        structure.refresh()
        assert structure.table.value == "features.0"
        assert len(structure.graph_mark.selected) == 3  # conv, BatchNorm and ReLU of the block
    finally:
        structure.close()
        maps.close()
    assert nbviz_hooks(session.model) == []


def test_unknown_layer_is_refused_and_the_selection_kept():
    session = make_session(SmallCNN(), (1, 28, 28))
    structure = ModelStructure(session, graph=False)
    try:
        assert structure.select("features.0.0")
        assert not structure.select(3)
        assert not structure.select("features.7")
        assert context_for(session).selection.layer == "features.0.0"
        structure.refresh()
        assert "&#x27;features.7&#x27; is not a module of SmallCNN" in structure.status.value
        assert structure.select("classifier.1")
        structure.refresh()
        assert structure.status.value == ""
    finally:
        structure.close()


def test_untraceable_model_view_explains_the_fallback():
    session = make_session(Branchy(), (1, 8, 8))
    structure = ModelStructure(session)
    try:
        assert not structure.graph.traced
        assert "could not trace" in structure.status.value
    finally:
        structure.close()


def test_close_detaches_from_the_selection():
    session = make_session(SmallCNN(), (1, 28, 28))
    structure = ModelStructure(session, graph=False)
    structure.close()
    context_for(session).selection.layer = "features.1"
    structure.refresh()
    assert structure.table.value is None


@pytest.mark.parametrize("builder", [torchvision.models.mobilenet_v3_small, torchvision.models.vgg11])
def test_torchvision_models_trace(builder):
    graph = module_graph(builder(weights=None))
    assert graph.traced and len(graph.nodes) > 30


def test_mobilenet_graph_wraps_into_readable_columns_with_a_legend():
    import torchvision

    from nbviz.views.structure import LABEL_CHARS, ROWS

    model = torchvision.models.mobilenet_v3_small(weights=None, num_classes=4)
    session = make_session(model, (3, 64, 64))
    structure = ModelStructure(session)
    try:
        mark = structure.graph_mark
        assert len(mark.x) > 100
        rows = {float(y) for y in mark.y}
        assert len(rows) <= ROWS  # not one 160-row column
        assert len({float(x) for x in mark.x}) >= 3
        labels = list(structure.graph_labels.text)
        assert len(set(labels)) == len(labels) and max(map(len, labels)) <= LABEL_CHARS  # fit a box
        assert "convolution" in structure.graph_legend.value and "activation" in structure.graph_legend.value
        assert all(c.startswith("#") and int(c[1:3], 16) > 0x70 for c in mark.colors)  # light markers
        node = structure.graph.nodes_of("features.3")[0]
        mark._handle_custom_msgs(mark, {"event": "element_click", "data": {"index": node}}, [])
        assert context_for(session).selection.layer.startswith("features.3")
        drawing = structure.drawing
        assert drawing.width <= 1000 and drawing.columns >= 3  # balanced columns, not one tall one
    finally:
        structure.close()


def _crossings(drawing) -> list[tuple[int, float, float]]:
    """Points of edges (sampled every 2 px) inside a node's box."""
    from nbviz.views.structure import NODE_H, NODE_W

    boxes = [(x - NODE_W / 2, x + NODE_W / 2, y - NODE_H / 2, y + NODE_H / 2) for x, y in zip(drawing.x, drawing.y, strict=True)]
    hits = []
    xs, ys = drawing.edge_x, drawing.edge_y
    for i in range(len(xs) - 1):
        if not (np.isfinite(xs[i]) and np.isfinite(xs[i + 1])):
            continue
        steps = max(2, int(np.hypot(xs[i + 1] - xs[i], ys[i + 1] - ys[i]) / 2))
        for f in np.linspace(0, 1, steps)[1:-1]:
            px, py = xs[i] + f * (xs[i + 1] - xs[i]), ys[i] + f * (ys[i + 1] - ys[i])
            hits += [(k, px, py) for k, (x0, x1, y0, y1) in enumerate(boxes) if x0 < px < x1 and y0 < py < y1]
    return hits


@pytest.mark.parametrize("builder", [SmallCNN, lambda: torchvision.models.resnet18(weights=None),
                                     lambda: torchvision.models.mobilenet_v3_small(weights=None)])
def test_graph_drawing_keeps_edges_off_the_boxes_and_arrows_on_their_targets(builder):
    from nbviz.views.structure import NODE_H, NODE_W, ROWS, graph_drawing

    graph = module_graph(builder())
    edges = [(graph.index(a), graph.index(b)) for a, b in graph.edges]
    drawing = graph_drawing([n.depth for n in graph.nodes], [n.lane for n in graph.nodes], edges)
    points = {(round(x), round(y)) for x, y in zip(drawing.x, drawing.y, strict=True)}
    assert len(points) == len(graph.nodes)  # no two nodes on one spot
    assert drawing.rows <= ROWS and drawing.width <= 1000
    used = {round(y) for x, y in zip(drawing.x, drawing.y, strict=True) if x >= drawing.x.max() - 200}
    assert len(used) >= drawing.rows - 1  # the last column as full as the others
    assert np.isfinite(drawing.x).all() and np.isfinite(drawing.y).all()
    assert 0 <= np.nanmin(drawing.edge_x) and np.nanmax(drawing.edge_x) <= drawing.width
    assert 0 <= np.nanmin(drawing.edge_y) and np.nanmax(drawing.edge_y) <= drawing.height
    # every edge is one NaN-separated polyline whose arrow tip touches its target's box
    pieces = np.split(np.arange(len(drawing.edge_x)), np.where(np.isnan(drawing.edge_x))[0])
    pieces = [p[~np.isnan(drawing.edge_x[p])] for p in pieces if (~np.isnan(drawing.edge_x[p])).any()]
    assert len(pieces) == len(edges) and not np.isnan(drawing.edge_x[-1])
    for piece, (_, t) in zip(pieces, edges, strict=True):
        tip = np.abs([drawing.edge_x[piece[-2]] - drawing.x[t], drawing.edge_y[piece[-2]] - drawing.y[t]])
        assert tip[0] <= NODE_W / 2 + 1.5 and tip[1] <= NODE_H / 2 + 1.5
        assert tip[0] >= NODE_W / 2 or tip[1] >= NODE_H / 2  # on the border, not inside
    assert _crossings(drawing) == []
    if graph.residual_edges():  # skips run left of the boxes of their column
        source, target = (graph.index(n) for n in graph.residual_edges()[0])
        piece = pieces[edges.index((source, target))]
        assert drawing.edge_x[piece].min() < drawing.x[source] - NODE_W / 2


def test_compact_names_keep_their_ends_fit_and_stay_distinct():
    from nbviz.views.structure import compact_names

    names = ["features.10.block.2.scale_activation", "features.1.block.1.avgpool", "conv1", "layer1.0.relu",
             "layer1.0.relu", "a_very_long_single_module_name_indeed"]
    short = compact_names(names, width=25)
    assert short[:3] == ["f.10.b.2.scale_activation", "f.1.block.1.avgpool", "conv1"]
    assert short[3:5] == ["layer1.0.relu", "layer1.0.relu#2"]
    assert short[5].startswith("…") and short[5].endswith("name_indeed")
    assert all(len(s) <= 25 for s in short) and len(set(short)) == len(short)


def test_a_broken_model_shows_the_layers_before_the_failure_and_why():
    data = TensorDataset(torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,)))
    session = nbviz.TrainingSession(TutorialCNN(), DataLoader(data, batch_size=4), epochs=1)
    structure = ModelStructure(session)
    try:
        assert {"conv1", "conv2", "pool"} <= structure.modules
        assert "2304 features reach fc1, which expects 3136" in structure.status.value
    finally:
        structure.close()
