"""ModelStructure: a table of the model's layers and a graph of how data flows between them.

The table (name, type, output shape, parameters, trainable) comes from one probe forward
pass; the graph from torch.fx where the model traces (residual ``add`` nodes and their skip
connections show), else the order modules ran in. Selecting a layer in either sets the
run's shared selection, which the feature-map and weight views follow.

Example:
    >>> structure = nbviz.ModelStructure(session)
    >>> structure.select("layer2.0.conv1")        # the feature-map view follows
"""

from __future__ import annotations

import html
import math
import threading
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import numpy as np
from torch import nn

from ..probes.capture import DEFAULT_TIMEOUT, LayerInfo
from ..probes.graph import ModuleGraph, module_graph
from .base import LiveView, message_html

NBSP = "\u00a0"
# the graph is drawn with plain bqplot marks in pixel coordinates: a Scatter of node boxes
# (rectangle markers turned on their side; a click selects), a Label mark of names on them and
# one Lines mark holding every edge. bqplot's Graph mark cannot draw a fixed layout: it always
# runs d3's force simulation (centre, forceX/forceY and link forces, 100 ticks even when
# "static"), which pulls given positions together, and it ends a directed edge half a box
# *width* before its target, so the arrows of vertical edges point up past their source.
_STYLE = ("<style>.nbviz-structure-table select, .nbviz-structure-table option, "
          ".nbviz-structure-header {font-family: monospace; font-size: 12px; white-space: pre;}"
          ".nbviz-structure-graph .label {font-family: monospace; pointer-events: none;}"
          ".nbviz-structure-graph .dot {cursor: pointer;}</style>")
_COLOURS = {"conv": "#90caf9", "norm": "#e0e0e0", "act": "#a5d6a7", "linear": "#ffcc80",
            "pool": "#ce93d8", "function": "#ef9a9a", "input": "#fff59d", "output": "#fff59d",
            "other": "#80deea"}
_NAMES = {"conv": "convolution", "norm": "normalisation", "act": "activation", "linear": "linear",
          "pool": "pooling", "function": "function (add, flatten…)", "input": "input / output",
          "other": "other module"}
ROWS = 60  # graph rows per column at most: deeper graphs wrap into further columns
MIN_ROWS = 24  # ...but columns are balanced, and never shorter than this
FIT_PX = 700  # columns are added while the graph stays about this wide (it scrolls down)
NODE_W, NODE_H = 160, 16  # a node's box
LABEL_CHARS = 25  # names are shortened to this many characters (10 px monospace fits the box)
LANE_PX, ROW_PX = 184, 26  # one branch lane, one layer row
PAD_X, PAD_Y, GAP_PX = 16, 18, 14  # room left of lane 0 for skip edges; top/bottom; between columns


@dataclass
class GraphDrawing:
    """Where the graph's parts go, in pixels (y grows downwards).

    Attributes:
        x, y: node marker centres, in node order.
        edge_x, edge_y: every edge as one polyline with its arrowhead, edges separated by NaN
            (none at the end).
        width, height: the drawing's size; columns, rows: how the layers were wrapped.
    """

    x: np.ndarray
    y: np.ndarray
    edge_x: np.ndarray
    edge_y: np.ndarray
    width: int
    height: int
    columns: int
    rows: int


def _arrow(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """``points`` plus an arrowhead at the last point, along the last segment."""
    (x0, y0), (x1, y1) = points[-2], points[-1]
    length = math.hypot(x1 - x0, y1 - y0) or 1.0
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    back = (x1 - 6 * ux, y1 - 6 * uy)
    left = (back[0] - 3.5 * uy, back[1] + 3.5 * ux)
    right = (back[0] + 3.5 * uy, back[1] - 3.5 * ux)
    return [*points, left, points[-1], right]


def graph_drawing(depths: list[int], lanes: list[int], edges: list[tuple[int, int]],
                  rows: int | None = None) -> GraphDrawing:
    """Lay out a layered graph: layers top to bottom, branches side by side in lanes, deep
    graphs wrapped into balanced columns; edges routed so that none crosses a box.

    A chain edge goes straight down; a branch edge steps down, across between two rows and
    down into its target; a skip edge (same lane, over several rows) runs left of the boxes
    into its target's side; an edge to a later column runs along the bottom and up the gap
    before that column.
    """
    lanes_n = max(lanes, default=0) + 1
    depth_n = max(depths, default=0) + 1
    column_px = PAD_X + lanes_n * LANE_PX + GAP_PX
    if rows is None:
        fit = max(1, FIT_PX // column_px)
        rows = min(ROWS, max(MIN_ROWS, math.ceil(depth_n / fit)))
    rows = max(1, min(rows, depth_n))
    columns = math.ceil(depth_n / rows)
    rows = math.ceil(depth_n / columns)  # as many columns, evenly filled
    column = [d // rows for d in depths]
    xs = np.array([c * column_px + PAD_X + lane * LANE_PX + NODE_W / 2 for c, lane in zip(column, lanes, strict=True)])
    ys = np.array([PAD_Y + (d % rows) * ROW_PX for d in depths], dtype=np.float64)
    width, height = columns * column_px, 2 * PAD_Y + (rows - 1) * ROW_PX
    bottom, half_row, top, side = height - 4.0, ROW_PX / 2, NODE_H / 2 + 1, NODE_W / 2 + 1
    ex: list[float] = []
    ey: list[float] = []
    for s, t in edges:
        sx, sy, tx, ty = float(xs[s]), float(ys[s]), float(xs[t]), float(ys[t])
        bend = sx - side - 8
        if column[t] != column[s]:  # to a later column: along the bottom, up the gap
            gap = column[t] * column_px + 4.0
            points = [(sx - side, sy), (bend, sy), (bend, bottom), (gap, bottom), (gap, ty - half_row),
                      (tx, ty - half_row), (tx, ty - top)]
        elif lanes[s] == lanes[t] and depths[t] - depths[s] > 1:  # a skip: left of the boxes
            points = [(sx - side, sy), (bend, sy), (bend, ty), (tx - side, ty)]
        elif lanes[s] == lanes[t]:
            points = [(sx, sy + top), (tx, ty - top)]
        else:  # to another lane: down, across between the rows, down
            points = [(sx, sy + top), (sx, ty - half_row), (tx, ty - half_row), (tx, ty - top)]
        for x, y in _arrow(points):
            ex.append(x)
            ey.append(y)
        ex.append(math.nan)
        ey.append(math.nan)
    # no NaN at the end: bqplot places a line's (hidden) label at its last point, and d3 turns
    # NaN into translate(undefined,undefined), an error in the browser console
    return GraphDrawing(xs, ys, np.array(ex[:-1]), np.array(ey[:-1]), int(width), int(height), columns, rows)


def compact_names(names: list[str], width: int = LABEL_CHARS) -> list[str]:
    """Names of at most ``width`` characters that keep their ends and stay distinct: leading
    parts are abbreviated to their first letter as far as needed
    ("features.10.block.2.scale_activation" -> "f.10.b.2.scale_activation"), then cut from
    the left; repeats (a module called twice) are numbered: "relu#2"."""
    result = []
    for name in names:
        parts = name.split(".")
        for i in range(len(parts) - 1):
            if len(".".join(parts)) <= width:
                break
            if not parts[i].isdigit():
                parts[i] = parts[i][0]
        short = ".".join(parts)
        result.append(short if len(short) <= width else "…" + short[-(width - 1):])
    seen: dict[str, int] = {}
    for i, label in enumerate(result):
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            suffix = f"#{seen[label]}"
            keep = width - len(suffix)
            result[i] = (label if len(label) <= keep else "…" + label[-(keep - 1):]) + suffix
    return result


def legend_html(categories: list[str]) -> str:
    items = "".join(f'<span style="margin-right:10px;white-space:nowrap"><span style="display:inline-block;'
                    f'width:12px;height:10px;background:{_COLOURS[c]};border:1px solid #616161"></span> '
                    f"{html.escape(_NAMES[c])}</span>" for c in categories)
    return f'<div class="nbviz-graph-legend" style="font-size:12px">{items}</div>'


def layer_rows(model: nn.Module, layers: list[LayerInfo]) -> list[dict[str, Any]]:
    """One row per submodule in definition order; modules that did not run say so."""
    seen = {layer.name: layer for layer in layers}
    rows = []
    for name, module in model.named_modules():
        if not name:
            continue
        info = seen.get(name)
        params = list(module.parameters())
        count = sum(p.numel() for p in params)
        rows.append({
            "name": name, "type": type(module).__name__, "depth": name.count("."),
            "output": "x".join(map(str, info.output_shape)) if info and info.output_shape else
            ("not run" if info is None else "-"),
            "params": count,
            "trainable": "-" if not params else ("yes" if all(p.requires_grad for p in params) else
                                                  "partly" if any(p.requires_grad for p in params) else "no"),
            "ran": info is not None,
        })
    return rows


def _category(label: str, kind: str, type_name: str) -> str:
    if kind != "module":
        return kind
    lowered = type_name.lower()
    for key, words in (("conv", ("conv",)), ("norm", ("norm",)), ("linear", ("linear",)),
                       ("pool", ("pool",)), ("act", ("relu", "gelu", "sigmoid", "tanh", "silu",
                                                      "hardswish", "swish", "softmax"))):
        if any(word in lowered for word in words):
            return key
    return "other"


class ModelStructure(LiveView):
    """Layers of ``session.model`` as a table and a data-flow graph, linked to the selection.

    Args:
        session: a TrainingSession or nbviz.watch() run.
        graph: draw the data-flow graph (bqplot) beside the table.
        timeout: seconds to wait for the training thread's next batch boundary.
    """

    min_interval = 0.2
    _built = False  # set once _setup() has built everything

    def __init__(self, session: Any, graph: bool = True, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.status = widgets.HTML()
        super().__init__(session, children=[self.status])
        try:
            self._setup(graph, timeout)
        except BaseException:
            self.close()
            raise

    def _setup(self, graph: bool, timeout: float) -> None:
        model = self.session.model
        self.layers = self.context.layers(timeout=timeout)
        self.rows = layer_rows(model, self.layers)
        self.modules = {row["name"] for row in self.rows}
        self.types = {row["name"]: row["type"] for row in self.rows}
        self.selection = self.context.selection
        self._lock = threading.Lock()
        self._shown: tuple[str, str] | None = None
        keys = ("name", "type", "output", "params", "trainable")
        cells = [{"name": "  " * row["depth"] + row["name"], "type": row["type"], "output": row["output"],
                  "params": f"{row['params']:,}", "trainable": row["trainable"]} for row in self.rows]
        widths = {key: max([len(key), *(len(c[key]) for c in cells)]) for key in keys}
        header = "  ".join(key.rjust(widths[key]) if key == "params" else key.ljust(widths[key]) for key in keys)
        options = []
        for row, c in zip(self.rows, cells, strict=True):
            text = "  ".join(c[key].rjust(widths[key]) if key == "params" else c[key].ljust(widths[key])
                             for key in keys)
            options.append((text.replace(" ", NBSP), row["name"]))
        self.table = widgets.Select(options=options, value=None, rows=min(24, max(len(options), 1)),
                                    layout=widgets.Layout(width="auto", min_width="520px"))
        self.table.add_class("nbviz-structure-table")
        self.add_class("nbviz-structure")
        self.table.observe(lambda change: self.select(change["new"]), names="value")
        total = sum(p.numel() for p in model.parameters())
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        summary = widgets.HTML(f"<b>{type(model).__name__}</b>: {len(self.rows)} modules, "
                               f"{total:,} parameters ({trainable:,} trainable)")
        head = widgets.HTML(_STYLE + f'<div class="nbviz-structure-header">{header}</div>')
        table_box = widgets.VBox([summary, head, self.table])
        self.graph: ModuleGraph = module_graph(model, self.layers)
        self.graph_mark: Any = None
        parts: list[widgets.Widget] = [table_box]
        if graph:
            figure = self._build_graph()
            parts.append(widgets.VBox([self.graph_legend, widgets.Box([figure], layout=widgets.Layout(
                max_height="620px", max_width="100%", overflow="auto", border="1px solid #ddd"))],
                layout=widgets.Layout(min_width="0", flex="1 1 auto")))
        self._base_note = "" if self.graph.traced else message_html(self.graph.reason, "info")
        if self.context.forward_failure:  # a broken model: the layers that ran, and why it stops
            self._base_note = message_html(
                f"The forward pass fails; the table lists the layers that ran before the failure. "
                f"{self.context.forward_failure}", "warning") + self._base_note
        self._note = self.status.value = self._base_note
        self.children = [self.status, widgets.HBox(parts, layout=widgets.Layout(flex_flow="row wrap"))]
        self.selection.observe(self._on_selection, names="layer")
        self._built = True
        self.poke()

    def _build_graph(self) -> widgets.Widget:
        import bqplot

        nodes = self.graph.nodes
        categories = [_category(node.label, node.kind, self.types.get(node.module, "")) for node in nodes]
        categories = ["input" if c == "output" else c for c in categories]
        labels = compact_names([node.label for node in nodes])
        edges = [(self.graph.index(a), self.graph.index(b)) for a, b in self.graph.edges]
        self.drawing = drawing = graph_drawing([n.depth for n in nodes], [n.lane for n in nodes], edges)
        size = NODE_W * NODE_H  # bqplot's rectangle marker: area, and height/width = 10**skew
        pad = math.sqrt(size) / 2 + 1  # bqplot keeps this much room for markers at each end
        margin = 2
        scales = {"x": bqplot.LinearScale(min=0.0, max=float(drawing.width)),
                  "y": bqplot.LinearScale(min=-float(drawing.height), max=0.0),
                  "rotation": bqplot.LinearScale(min=0.0, max=180.0)}
        x = drawing.x.astype(np.float32)
        y = (-drawing.y).astype(np.float32)
        self.graph_edges = bqplot.Lines(x=(drawing.edge_x if edges else np.zeros(0)).astype(np.float32),
                                        y=(-drawing.edge_y if edges else np.zeros(0)).astype(np.float32),
                                        scales={"x": scales["x"], "y": scales["y"]}, colors=["#8d8d8d"],
                                        stroke_width=1.3)
        self.graph_mark = bqplot.Scatter(
            x=x, y=y, scales=scales, marker="rectangle", default_size=size,
            default_skew=math.log10(NODE_W / NODE_H), rotation=np.full(len(nodes), 90.0, np.float32),
            colors=[_COLOURS[c] for c in categories], stroke="#616161", names=[n.label for n in nodes],
            display_names=False, interactions={"click": "select", "hover": "tooltip"},
            tooltip=bqplot.Tooltip(fields=["name"]),
            selected_style={"stroke": "#d50000", "stroke-width": "3"}, unselected_style={})
        self.graph_mark.on_element_click(self._on_graph_click)
        self.graph_labels = bqplot.Label(x=x, y=y, text=labels, scales={"x": scales["x"], "y": scales["y"]},
                                         colors=["#212121"], default_size=10, font_unit="px", align="start",
                                         font_weight="normal", x_offset=-NODE_W // 2 + 5, y_offset=0)
        self.graph_legend = widgets.HTML(legend_html([c for c in _COLOURS if c in categories]))
        wide, high = drawing.width + 2 * (pad + margin), drawing.height + 2 * (pad + margin)
        figure = bqplot.Figure(marks=[self.graph_edges, self.graph_mark, self.graph_labels],
                               fig_margin={"top": margin, "bottom": margin, "left": margin, "right": margin},
                               padding_x=0.0, padding_y=0.0, animation_duration=0,
                               layout=widgets.Layout(width=f"{wide:.0f}px", height=f"{high:.0f}px",
                                                     min_width=f"{wide:.0f}px", flex="0 0 auto"))
        figure.add_class("nbviz-structure-graph")
        return figure

    # ---- selection (any thread: validate, set state, poke) --------------------------------
    def select(self, layer: str | None) -> bool:
        """Select ``layer`` (a dotted module name) for every linked view; unknown names are refused."""
        if layer is None:
            return False
        if not isinstance(layer, str) or layer not in self.modules:
            self._note = message_html(f"{layer!r} is not a module of {type(self.session.model).__name__}; "
                                      "selection unchanged.", "warning")
            self.poke()
            return False
        self._note = self._base_note
        if self.selection.layer != layer:
            self.selection.layer = layer
        self.poke()
        return True

    def _on_graph_click(self, _mark: Any, content: Any) -> None:
        """bqplot sends ``{"event": "element_click", "data": <the point's datum>}`` for a click on
        a node's marker or name; the datum carries the node's ``index``. Anything else is ignored."""
        data = content.get("data") if isinstance(content, dict) else None
        if not isinstance(data, dict):
            return
        index = data.get("index")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(self.graph.nodes):
            return
        module = self.graph.nodes[index].module
        if module:
            self.select(module)

    def _on_selection(self, _change: dict) -> None:
        self.poke()

    def refresh(self) -> None:
        """Highlight the selected layer in the table and the graph (pump thread)."""
        if not self._built:
            return
        layer, note = self.selection.layer, self._note
        if (layer, note) == self._shown:
            return
        self._shown = (layer, note)
        with self.hold_sync():
            if self.status.value != note:
                self.status.value = note
            value = layer if layer in self.modules else None
            if self.table.value != value:
                self.table.value = value
            if self.graph_mark is not None:
                selected = self.graph.nodes_of(layer)
                with self.graph_mark.hold_sync():
                    self.graph_mark.selected = selected or None

    def on_close(self) -> None:
        if self._built:
            self._built = False
            self.selection.unobserve(self._on_selection, names="layer")


__all__ = ["ModelStructure", "layer_rows"]
