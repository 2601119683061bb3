"""Plain-language diagnosis of gradient flow from ParamStats snapshots.

Rules of thumb, applied to the median of the last few snapshots so that one noisy batch
does not raise a flag:

* **vanishing**: a layer's RMS gradient is below ``vanish_rel`` (1e-3) of the largest
  layer's, or practically zero; that layer barely learns.
* **exploding**: non-finite gradients, or a gradient norm above ``explode_norm`` (1e3).
* **large update**: one optimizer step changes the weights by more than ``update_high``
  (10 %) of their norm; healthy training is near 1e-3.
* **no gradient**: a trainable parameter received no gradient at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .param_stats import Snapshot

ADVICE = {
    "vanishing": ("Try ReLU-family activations instead of sigmoid/tanh, normalisation layers "
                  "(BatchNorm, LayerNorm), residual connections, Kaiming (He) initialisation, "
                  "or fewer layers."),
    "exploding": ("Try a lower learning rate, gradient clipping "
                  "(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0) before "
                  "optimizer.step()), normalisation layers, or smaller initial weights."),
    "large_update": ("Lower the learning rate (for example by 10x) or add warm-up; "
                     "the update should be about 1/1000 of the weights per step."),
    "no_gradient": ("Check that the layer is used in forward() and that its output is not "
                    "detached (.detach(), .item(), numpy round-trips) on the way to the loss; "
                    "set requires_grad=False if it is meant to be frozen."),
}


@dataclass(frozen=True)
class GradientFlag:
    """One problem found in one parameter tensor."""

    name: str
    kind: str  # vanishing, exploding, large_update, no_gradient
    value: float
    explanation: str

    @property
    def advice(self) -> str:
        return ADVICE[self.kind]

    def text(self) -> str:
        return f"{self.name}: {self.explanation} {self.advice}"


def diagnose(snapshots: Sequence[Snapshot], names: Sequence[str] | None = None, *,
             window: int = 5, vanish_rel: float = 1e-3, vanish_abs: float = 1e-12,
             explode_norm: float = 1e3, update_high: float = 0.1) -> list[GradientFlag]:
    """Flags for the parameters ``names`` (default: every weight tensor of 2+ dims).

    Args:
        snapshots: oldest first, as from ``ParamStats.snapshots()``; the last ``window``
            are used.
        names: parameter names to judge; others are ignored.
    """
    recent = list(snapshots)[-window:]
    if not recent:
        return []
    latest = recent[-1]
    if names is None:
        names = [n for n, r in latest.params.items() if len(r.shape) >= 2]
    flags: list[GradientFlag] = []
    rms: dict[str, float] = {}
    for name in names:
        records = [s.params[name] for s in recent if name in s.params]
        if not records:
            continue
        if all(r.grad is None for r in records):
            flags.append(GradientFlag(name, "no_gradient", math.nan,
                                      "received no gradient in recent steps, so it never changes."))
            continue
        norms = np.array([r.grad_norm for r in records if r.grad is not None])
        if not np.all(np.isfinite(norms)) or any(r.grad.nonfinite for r in records if r.grad):
            flags.append(GradientFlag(name, "exploding", math.inf,
                                      "has NaN or infinite gradients: training has diverged or "
                                      "is about to (the loss will become NaN)."))
            continue
        norm = float(np.median(norms))
        if norm > explode_norm:
            flags.append(GradientFlag(name, "exploding", norm,
                                      f"has a gradient norm of {norm:.3g} (above {explode_norm:.0e}): "
                                      "gradients are exploding, each step throws the weights far "
                                      "and the loss jumps around or becomes NaN."))
            continue
        rms[name] = norm / math.sqrt(max(records[-1].numel, 1))
        ratios = np.array([r.update_ratio for r in records], dtype=float)
        ratios = ratios[np.isfinite(ratios)]
        if ratios.size and float(np.median(ratios)) > update_high:
            ratio = float(np.median(ratios))
            flags.append(GradientFlag(name, "large_update", ratio,
                                      f"changes by {ratio:.0%} of its weights in one step: the "
                                      "learning rate is too high for this layer, training will be "
                                      "unstable."))
    if rms:
        top_name = max(rms, key=rms.__getitem__)
        top = rms[top_name]
        for name, value in rms.items():
            if value <= vanish_abs or (top > 0 and value < vanish_rel * top):
                times = f"{top / value:.2g} times" if value > 0 else "infinitely"
                flags.append(GradientFlag(name, "vanishing", value,
                                          f"gets gradients {times} smaller than {top_name} "
                                          f"(RMS {value:.2g} vs {top:.2g}): the gradient vanishes "
                                          "on its way back, so this layer barely learns."))
    order = {n: i for i, n in enumerate(names)}
    return sorted(flags, key=lambda f: order.get(f.name, len(order)))

