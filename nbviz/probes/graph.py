"""How data flows between a model's modules: from torch.fx where the model traces.

``torch.fx.symbolic_trace`` runs ``forward`` on proxies (no real computation, no state
touched) and records every module call and function (``add`` of a residual connection,
``flatten``, ``cat``). Models whose ``forward`` depends on tensor values cannot be traced;
for those the graph falls back to the order modules ran in during one probe pass, and says
so in ``reason``.

Example:
    >>> graph = module_graph(torchvision.models.resnet18(weights=None))
    >>> graph.traced, graph.residual_edges()[:1]
    (True, [('maxpool', 'add')])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from torch import nn

from .capture import LayerInfo

_SHAPE_QUERIES = {"size", "dim", "shape", "getattr", "getitem_size"}


@dataclass(frozen=True)
class GraphNode:
    """One step of the forward pass.

    Attributes:
        id: unique node id (the fx node name, e.g. ``relu_1`` for a reused ReLU's 2nd call).
        label: what to show: the module's dotted name, or the function (``add``).
        kind: ``input``, ``module``, ``function`` or ``output``.
        module: dotted module name for ``module`` nodes, else "".
        depth: longest path from the input (for layered drawing).
        lane: position among the nodes of the same depth.
    """

    id: str
    label: str
    kind: str
    module: str = ""
    depth: int = 0
    lane: int = 0


@dataclass
class ModuleGraph:
    """Nodes and directed edges (source id, target id) of a forward pass."""

    nodes: list[GraphNode]
    edges: list[tuple[str, str]]
    traced: bool
    reason: str = ""
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._index = {node.id: i for i, node in enumerate(self.nodes)}

    def index(self, node_id: str) -> int:
        return self._index[node_id]

    def residual_edges(self) -> list[tuple[str, str]]:
        """Edges that skip at least one layer of depth (skip/residual connections)."""
        depth = {node.id: node.depth for node in self.nodes}
        return [(a, b) for a, b in self.edges if depth[b] - depth[a] > 1]

    def nodes_of(self, module: str) -> list[int]:
        """Indices of the nodes that call ``module`` or its submodules (a container such as
        ``layer3`` is inlined by fx; a reused module has several nodes)."""
        if not module:
            return []
        prefix = module + "."
        return [i for i, node in enumerate(self.nodes) if node.module == module or node.module.startswith(prefix)]


def _layered(nodes: list[tuple[str, str, str, str]], edges: list[tuple[str, str]]) -> list[GraphNode]:
    """Depth = longest path from a source, lane = order within a depth; nodes are in
    topological order already (fx graphs and execution orders both are)."""
    inputs: dict[str, list[str]] = {node_id: [] for node_id, *_ in nodes}
    for source, target in edges:
        inputs[target].append(source)
    depth: dict[str, int] = {}
    lanes: dict[int, int] = {}
    result = []
    for node_id, label, kind, module in nodes:
        d = 1 + max((depth[s] for s in inputs[node_id]), default=-1)
        depth[node_id] = d
        lane = lanes.get(d, 0)
        lanes[d] = lane + 1
        result.append(GraphNode(node_id, label, kind, module, d, lane))
    return result


def traced_graph(model: nn.Module) -> ModuleGraph:
    """The fx graph of ``model`` reduced to module calls, functions, input and output.

    Raises:
        Exception: whatever ``torch.fx.symbolic_trace`` raises for an untraceable model.
    """
    import torch.fx

    graph = torch.fx.symbolic_trace(model).graph
    kept: list[tuple[str, str, str, str]] = []
    keep: set[str] = set()
    sources: dict[str, list[str]] = {}  # dropped node -> kept nodes it stands for
    edges: list[tuple[str, str]] = []
    for node in graph.nodes:
        upstream: list[str] = []
        for parent in node.all_input_nodes:
            upstream.extend([parent.name] if parent.name in keep else sources.get(parent.name, []))
        upstream = list(dict.fromkeys(upstream))
        name = str(node.target) if node.op in ("call_function", "call_method") else ""
        name = getattr(node.target, "__name__", name)
        if node.op == "placeholder":
            entry = (node.name, f"input {node.name}" if node.name != "x" else "input", "input", "")
        elif node.op == "output":
            entry = (node.name, "output", "output", "")
        elif node.op == "call_module":
            entry = (node.name, str(node.target), "module", str(node.target))
        elif node.op in ("call_function", "call_method") and name not in _SHAPE_QUERIES:
            entry = (node.name, name, "function", "")
        else:  # get_attr, shape queries: pass their inputs through
            sources[node.name] = upstream
            continue
        kept.append(entry)
        keep.add(node.name)
        edges.extend((source, node.name) for source in upstream)
    return ModuleGraph(_layered(kept, edges), edges, traced=True)


def order_graph(layers: Sequence[LayerInfo], reason: str = "") -> ModuleGraph:
    """A chain of the leaf modules in the order they ran (the fallback without fx)."""
    names = [layer.name for layer in layers]
    leaves = [name for name in names if not any(other.startswith(name + ".") for other in names)]
    nodes = [("input", "input", "input", "")] + [(name, name, "module", name) for name in leaves] + \
        [("output", "output", "output", "")]
    edges = [(a[0], b[0]) for a, b in zip(nodes, nodes[1:], strict=False)]
    return ModuleGraph(_layered(nodes, edges), edges, traced=False, reason=reason)


def module_graph(model: nn.Module, layers: Sequence[LayerInfo] | None = None) -> ModuleGraph:
    """The fx graph where ``model`` traces, else the module order of ``layers``.

    Args:
        model: the network.
        layers: its layers from :func:`~nbviz.probes.capture.discover_layers`, used for the
            fallback (without them the fallback lists modules in definition order).
    """
    try:
        return traced_graph(model)
    except Exception as exc:  # any tracing failure: data-dependent control flow, unsupported ops
        reason = (f"torch.fx could not trace {type(model).__name__} ({type(exc).__name__}: "
                  f"{str(exc).splitlines()[0] if str(exc) else ''}); showing modules in the order "
                  "they ran, without branches")
        if layers is None:
            layers = [LayerInfo(name, type(m).__name__, (), 0, False, 1, i)
                      for i, (name, m) in enumerate(model.named_modules()) if name]
        return order_graph(layers, reason)


__all__ = ["GraphNode", "ModuleGraph", "module_graph", "order_graph", "traced_graph"]
