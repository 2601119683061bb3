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
from typing import Any

import ipywidgets as widgets
from torch import nn

from ..probes.capture import DEFAULT_TIMEOUT, LayerInfo
from ..probes.graph import ModuleGraph, module_graph
from .base import LiveView, message_html
from .charts import short_labels

NBSP = "\u00a0"
# labels in dark text on light boxes, never catching the click meant for their box (bqplot
# reports a click only on the box's own element); edges grey and visible
_STYLE = ("<style>.nbviz-structure-table select, .nbviz-structure-table option, "
          ".nbviz-structure-header {font-family: monospace; font-size: 12px; white-space: pre;}"
          ".nbviz-structure .network text.label {fill: #212121; font-size: 11px; pointer-events: none;}"
          ".nbviz-structure .network .element {stroke: #616161; stroke-width: 0.8px; cursor: pointer;}"
          ".nbviz-structure .network path.link {stroke: #8d8d8d; stroke-width: 1.3px; fill: none;"
          " opacity: 1;}"
          ".nbviz-structure .linkarrow {fill: #8d8d8d;}</style>")
_COLOURS = {"conv": "#90caf9", "norm": "#e0e0e0", "act": "#a5d6a7", "linear": "#ffcc80",
            "pool": "#ce93d8", "function": "#ef9a9a", "input": "#fff59d", "output": "#fff59d",
            "other": "#80deea"}
_NAMES = {"conv": "convolution", "norm": "normalisation", "act": "activation", "linear": "linear",
          "pool": "pooling", "function": "function (add, flatten…)", "input": "input / output",
          "other": "other module"}
ROWS = 36  # graph rows per column: deeper graphs wrap into further columns
NODE_W, NODE_H, ROW_PX, LANE_PX = 150, 18, 26, 170


def graph_layout(depths: list[int], lanes: list[int], rows: int = ROWS) -> tuple[list[float], list[float], int, int]:
    """Positions of layered nodes wrapped into columns of ``rows`` layers: (x, y, columns wide,
    rows high). A deep chain (mobilenet's 160 nodes) becomes several readable columns."""
    width = max(lanes, default=0) + 1
    high = min(max(depths, default=0) + 1, rows)
    xs = [(d // rows) * (width + 0.5) + lane for d, lane in zip(depths, lanes, strict=True)]
    ys = [-float(d % rows) for d in depths]
    blocks = max(depths, default=0) // rows + 1
    return xs, ys, int(math.ceil(blocks * (width + 0.5))), high


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
        self.graph_mark = None
        parts: list[widgets.Widget] = [table_box]
        if graph:
            figure = self._build_graph()
            parts.append(widgets.VBox([self.graph_legend, widgets.Box([figure], layout=widgets.Layout(
                max_height="620px", max_width="100%", overflow="auto", border="1px solid #ddd"))],
                layout=widgets.Layout(min_width="0", flex="1 1 auto")))
        self._base_note = "" if self.graph.traced else message_html(self.graph.reason, "info")
        self._note = self.status.value = self._base_note
        self.children = [self.status, widgets.HBox(parts, layout=widgets.Layout(flex_flow="row wrap"))]
        self.selection.observe(self._on_selection, names="layer")
        self._built = True
        self.poke()

    def _build_graph(self) -> widgets.Widget:
        import bqplot
        import numpy as np

        nodes = self.graph.nodes
        categories = [_category(node.label, node.kind, self.types.get(node.module, "")) for node in nodes]
        categories = ["input" if c == "output" else c for c in categories]
        labels = short_labels([node.label for node in nodes], width=22)
        node_data = [{"label": label, "shape": "rect",
                      "shape_attrs": {"width": NODE_W, "height": NODE_H, "rx": 3}} for label in labels]
        links = [{"source": self.graph.index(a), "target": self.graph.index(b)} for a, b in self.graph.edges]
        xs, ys, wide, high = graph_layout([n.depth for n in nodes], [n.lane for n in nodes])
        x_scale = bqplot.LinearScale(min=-0.6, max=wide - 0.4)
        y_scale = bqplot.LinearScale(min=-high + 0.5, max=0.5)
        self.graph_mark = bqplot.Graph(
            node_data=node_data, link_data=links, link_type="line", directed=True,
            x=np.array(xs, dtype=np.float32), y=np.array(ys, dtype=np.float32),
            scales={"x": x_scale, "y": y_scale}, colors=[_COLOURS[c] for c in categories], static=True,
            highlight_links=False, interactions={"click": "select"},
            selected_style={"stroke": "#d50000", "stroke-width": "3"})
        self.graph_mark.on_element_click(self._on_graph_click)
        self.graph_legend = widgets.HTML(legend_html([c for c in _COLOURS if c in categories]))
        figure = bqplot.Figure(marks=[self.graph_mark], fig_margin={"top": 12, "bottom": 12, "left": 12, "right": 12},
                               layout=widgets.Layout(width=f"{LANE_PX * wide + 40}px",
                                                     height=f"{ROW_PX * high + 40}px",
                                                     min_width=f"{LANE_PX * wide + 40}px"))
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
        """bqplot sends ``{"event": "element_click", "data": <the node's datum>}``; the datum
        carries the node's ``index`` (d3 sets it) and its label. Anything else is ignored."""
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
