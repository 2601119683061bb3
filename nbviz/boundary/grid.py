"""Class probabilities and hidden-unit outputs of a 2-D-input model on a regular grid.

:func:`compute_maps` runs the model once on all grid points (one batch) under the probe
rules (:func:`nbviz.probes.guard.probe_mode`): no autograd, eval mode with every module's
mode restored, the RNG forked, forward hooks removed before it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..probes.guard import model_device, probe_mode

MIN_RESOLUTION, MAX_RESOLUTION = 8, 400
ACTIVATIONS: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.Softplus, nn.Mish,
    nn.Hardtanh, nn.ReLU6, nn.PReLU, nn.SELU, nn.CELU, nn.Hardswish, nn.Hardsigmoid, nn.Identity)


@dataclass(frozen=True)
class GridSpec:
    """A square grid of ``resolution`` x ``resolution`` points over a rectangle of the plane.

    Row 0 is the top (``y_max``), column 0 the left (``x_min``), as on screen.
    """

    x_min: float
    x_max: float
    y_min: float
    y_max: float
    resolution: int = 100

    def __post_init__(self) -> None:
        res = self.resolution
        if isinstance(res, bool) or not isinstance(res, int) or not MIN_RESOLUTION <= res <= MAX_RESOLUTION:
            raise ValueError(f"resolution must be a whole number from {MIN_RESOLUTION} to "
                             f"{MAX_RESOLUTION} grid points per side, got {res!r}")
        if not (self.x_max > self.x_min and self.y_max > self.y_min):
            raise ValueError(f"the grid needs x_min < x_max and y_min < y_max, got "
                             f"x {self.x_min}..{self.x_max}, y {self.y_min}..{self.y_max}")

    def points(self) -> torch.Tensor:
        """The grid points, float32 of shape (resolution², 2), row by row from the top."""
        xs = torch.linspace(self.x_min, self.x_max, self.resolution)
        ys = torch.linspace(self.y_max, self.y_min, self.resolution)
        yy, xx = torch.meshgrid(ys, xs, indexing="ij")
        return torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)

    def to_pixels(self, points: np.ndarray, size: int) -> np.ndarray:
        """Pixel (row, column) of ``points`` (N x 2) on an image ``size`` pixels wide."""
        cols = (points[:, 0] - self.x_min) / (self.x_max - self.x_min) * (size - 1)
        rows = (self.y_max - points[:, 1]) / (self.y_max - self.y_min) * (size - 1)
        return np.stack([np.rint(rows), np.rint(cols)], 1).astype(np.int64)


def plane_bounds(points: torch.Tensor | np.ndarray, margin: float = 0.1) -> tuple[float, float, float, float]:
    """A square window around ``points`` (N x 2) with ``margin`` of its side added around."""
    array = np.asarray(points, dtype=np.float64)
    finite = array[np.isfinite(array).all(1)]
    if len(finite) == 0:
        return -1.0, 1.0, -1.0, 1.0
    lo, hi = finite.min(0), finite.max(0)
    centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 1e-3) * (1 + margin)
    return (float(centre[0] - half), float(centre[0] + half), float(centre[1] - half), float(centre[1] + half))


def hidden_units(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The modules whose outputs are an MLP's hidden units: its activation modules, or (for
    a model without any) every Linear layer but the last. Empty for other models."""
    named = [(name, m) for name, m in model.named_modules() if name]
    activations = [(name, m) for name, m in named if isinstance(m, ACTIVATIONS) and not isinstance(m, nn.Identity)]
    if activations:
        return activations
    linears: list[tuple[str, nn.Module]] = [(name, m) for name, m in named if isinstance(m, nn.Linear)]
    return linears[:-1]


@dataclass
class PlaneMaps:
    """What one grid pass gives: class probabilities and every hidden unit's output."""

    probabilities: np.ndarray  # resolution x resolution x classes, float32
    units: np.ndarray  # units x resolution x resolution, float32 (0 units when none)
    unit_names: list[str]
    step: int = 0
    # with ``network`` (see compute_maps): the first Linear's inputs (features x res x res),
    # the last Linear's outputs (classes x res x res) and every Linear's weight (out x in)
    inputs: np.ndarray = field(default_factory=lambda: np.zeros((0, 1, 1), np.float32))
    outputs: np.ndarray = field(default_factory=lambda: np.zeros((0, 1, 1), np.float32))
    weights: list[np.ndarray] = field(default_factory=list)


def group_sizes(unit_names: list[str]) -> list[int]:
    """How many units each recorded layer has, in order ('2[0]', '2[1]', '4[0]' -> [2, 1])."""
    sizes: dict[str, int] = {}
    for name in unit_names:
        layer = name.rpartition("[")[0]
        sizes[layer] = sizes.get(layer, 0) + 1
    return list(sizes.values())


def mlp_chain(model: nn.Module, unit_names: list[str]) -> list[nn.Linear] | None:
    """The model's Linear layers if it is a plain chain Linear -> units -> Linear -> ... ->
    Linear whose recorded unit layers (``unit_names`` of a :func:`compute_maps` pass) sit
    between them with matching widths; else None (no network diagram applies)."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    groups = group_sizes(unit_names)
    if not linears or len(groups) != len(linears) - 1:
        return None
    for k, width in enumerate(groups):
        if not linears[k].out_features == width == linears[k + 1].in_features:
            return None
    return linears


def probabilities_of(outputs: torch.Tensor) -> torch.Tensor:
    """Class probabilities from a model's outputs: softmax, or sigmoid for one output."""
    if outputs.dim() != 2:
        raise ValueError(f"the model's output has shape {tuple(outputs.shape)}; a decision map needs "
                         "one row of class scores per input point (batch x classes)")
    if outputs.shape[1] == 1:
        p = torch.sigmoid(outputs.float())
        return torch.cat([1 - p, p], 1)
    return torch.softmax(outputs.float(), 1)


def compute_maps(model: nn.Module, grid: GridSpec, units: list[tuple[str, nn.Module]] | None = None,
                 step: int = 0, network: list[nn.Linear] | None = None) -> PlaneMaps:
    """Run ``model`` once on every grid point (probe rules) and return its maps.

    ``units`` are the modules whose outputs to record (see :func:`hidden_units`); a module
    called more than once records each call as its own layer. Only vector outputs
    (batch x units) are kept. ``network`` (from :func:`mlp_chain`) also records the first
    Linear's inputs, the last one's outputs, and copies of every Linear's weight.
    """
    inputs = grid.points().to(model_device(model))
    res = grid.resolution
    recorded: list[tuple[str, torch.Tensor]] = []
    handles = []

    def recorder(name: str):  # noqa: ANN202
        def hook(_module: nn.Module, _args: object, output: object) -> None:
            if isinstance(output, torch.Tensor) and output.dim() == 2 and len(output) == len(inputs):
                recorded.append((name, output.detach()))
        return hook

    ends: dict[str, torch.Tensor] = {}

    def first_input(_module: nn.Module, args: tuple) -> None:
        if args and isinstance(args[0], torch.Tensor) and "inputs" not in ends:
            ends["inputs"] = args[0].detach()

    def last_output(_module: nn.Module, _args: object, output: object) -> None:
        if isinstance(output, torch.Tensor):
            ends["outputs"] = output.detach()

    try:
        for name, module in units or []:
            handles.append(module.register_forward_hook(recorder(name)))
        if network:
            handles.append(network[0].register_forward_pre_hook(first_input))
            handles.append(network[-1].register_forward_hook(last_output))
        with probe_mode(model):
            outputs = model(inputs)
            if isinstance(outputs, (tuple, list)):
                outputs = outputs[0]
            if isinstance(outputs, dict):
                outputs = next(iter(outputs.values()))
            if not isinstance(outputs, torch.Tensor):
                raise ValueError(f"the model returned {type(outputs).__name__}, not a tensor of class scores")
            probs = probabilities_of(outputs)
    finally:
        for handle in handles:
            handle.remove()
    probabilities = probs.cpu().numpy().reshape(res, res, -1)
    names: list[str] = []
    blocks: list[torch.Tensor] = []
    seen: dict[str, int] = {}
    for name, value in recorded:
        seen[name] = seen.get(name, 0) + 1
        label = name if seen[name] == 1 else f"{name}#{seen[name]}"
        names += [f"{label}[{i}]" for i in range(value.shape[1])]
        blocks.append(value.float().T)
    unit_maps = (torch.cat(blocks).cpu().numpy().reshape(-1, res, res) if blocks
                 else np.zeros((0, res, res), np.float32))
    maps = PlaneMaps(np.ascontiguousarray(probabilities, np.float32), unit_maps, names, step)
    if network:
        for key, value in ends.items():
            if value.dim() == 2 and len(value) == len(inputs):
                setattr(maps, key, value.float().T.cpu().numpy().reshape(-1, res, res))
        with torch.no_grad():
            maps.weights = [layer.weight.detach().float().cpu().numpy().copy() for layer in network]
    return maps


__all__ = ["GridSpec", "PlaneMaps", "compute_maps", "group_sizes", "hidden_units", "mlp_chain", "plane_bounds",
           "probabilities_of"]
