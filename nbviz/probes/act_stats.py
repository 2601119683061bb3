"""Activation statistics of every layer on the probe batch: mean, std, zeros, dead units.

One forward pass of the session's fixed probe batch under :func:`probe_mode` (eval mode,
no_grad, RNG forked), run through ``session.run_at_batch_boundary`` so it never races a
training step. Forward hooks exist only during that pass and are removed right after,
even when the pass fails.

A *dead unit* is a channel (dim 1) that is exactly zero for every probe sample and
position; after a ReLU this is the classic dead ReLU, which gets no gradient and so never
recovers.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .guard import model_device, probe_mode

RELU_LIKE = (nn.ReLU, nn.ReLU6, nn.Hardtanh, nn.Hardswish, nn.Threshold)
DEAD_FLAG_FRACTION = 0.25  # flag a ReLU layer when at least this share of its units is dead


@dataclass(frozen=True)
class LayerActivation:
    """Statistics of one layer's output on the probe batch."""

    name: str  # dotted module name; " (call k)" for the k-th call of a module used repeatedly
    type: str
    shape: tuple[int, ...]
    mean: float
    std: float
    zero_fraction: float
    dead_units: int
    units: int
    relu_like: bool

    @property
    def dead_fraction(self) -> float:
        return self.dead_units / self.units if self.units else 0.0

    @property
    def flagged(self) -> bool:
        """A ReLU-like layer with many dead units."""
        return self.relu_like and self.units > 0 and self.dead_fraction >= DEAD_FLAG_FRACTION

    def explanation(self) -> str:
        return (f"{self.name}: {self.dead_units} of {self.units} units ({self.dead_fraction:.0%}) "
                "output zero for every probe image. A dead ReLU gets no gradient, so it never "
                "recovers. Try a lower learning rate, LeakyReLU/GELU, BatchNorm before the "
                "activation, or Kaiming initialisation.")


@dataclass(frozen=True)
class ActivationReport:
    """Statistics of every leaf layer, in the order the forward pass ran them."""

    step: int
    layers: list[LayerActivation]

    def flagged(self) -> list[LayerActivation]:
        return [layer for layer in self.layers if layer.flagged]


def _layer_stats(name: str, module: nn.Module, output: torch.Tensor) -> LayerActivation:
    out = output.detach()
    if not out.is_floating_point():
        out = out.float()
    numel = out.numel()
    mean = float(out.mean()) if numel else float("nan")
    std = float(out.std()) if numel > 1 else 0.0
    zeros = float((out == 0).sum()) / numel if numel else 0.0
    units = dead = 0
    if out.dim() >= 2 and numel:
        units = out.shape[1]
        alive = (out != 0).transpose(0, 1).reshape(units, -1).any(dim=1)
        dead = int(units - int(alive.sum()))
    return LayerActivation(name, type(module).__name__, tuple(out.shape), mean, std, zeros,
                           dead, units, isinstance(module, RELU_LIKE))


def compute_activation_stats(model: nn.Module, inputs: torch.Tensor, step: int = 0) -> ActivationReport:
    """Run ``model(inputs)`` under probe guarantees and collect every leaf layer's statistics.

    Raises:
        RuntimeError: the forward pass failed (the message names the input shape).
    """
    names = {m: n for n, m in model.named_modules()}
    layers: list[LayerActivation] = []
    calls: dict[str, int] = {}

    def hook(module: nn.Module, args: Any, output: Any) -> None:
        if not isinstance(output, torch.Tensor):
            return
        name = names.get(module, "?")
        calls[name] = calls.get(name, 0) + 1
        label = name if calls[name] == 1 else f"{name} (call {calls[name]})"
        layers.append(_layer_stats(label, module, output))

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if not any(True for _ in m.children())]
    try:
        with probe_mode(model):
            try:
                model(inputs.to(model_device(model)))
            except Exception as exc:
                raise RuntimeError(
                    f"activation statistics need a forward pass of the probe batch (shape "
                    f"{tuple(inputs.shape)}), which failed: {exc}") from exc
    finally:
        for handle in handles:
            handle.remove()
    return ActivationReport(step, layers)


def request_activation_stats(session: Any, n: int = 64) -> Future:
    """Compute :class:`ActivationReport` for ``session``'s probe batch at the next batch boundary."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a whole number of probe samples >= 1, got {n!r}")
    inputs, _ = session.probe_batch(n)
    return session.run_at_batch_boundary(
        lambda: compute_activation_stats(session.model, inputs, session.step_count))
