"""Say why a forward pass failed: the module or the line in ``forward``, the shapes, the fix.

The failing pass is run again once, recorded call by call (:mod:`nbviz.probes.trace`), and
explained (:mod:`nbviz.probes.forward_explain`): for the classic flatten mismatch, "64×5×5 =
1600 features reach fc1, which expects 3136 = 64×7×7" and the nn.Linear to write instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .forward_explain import Explanation, explain
from .guard import probe_mode
from .trace import record


def describe_shapes(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return "x".join(map(str, value.shape)) if value.dim() else "scalar"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(describe_shapes(v) for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {describe_shapes(v)}" for k, v in value.items()) + "}"
    return type(value).__name__


@dataclass
class ForwardFailure:
    """Why and where a forward pass failed, and what to change."""

    explanation: Explanation
    error: BaseException

    def message(self) -> str:
        """One short paragraph: what failed (with shapes), where, and the fix."""
        where = f" (at {self.explanation.location})" if self.explanation.location else ""
        return f"{self.explanation.summary}{where}. Fix: {self.explanation.fix}"


def locate_forward_failure(model: nn.Module, inputs: Any) -> ForwardFailure | None:
    """Run ``model(inputs)`` again under probe guarantees, recording every call.

    Returns None when the pass does not fail this way (the failure was elsewhere).
    """
    with probe_mode(model):
        trace = record(model, inputs)
    if trace.error is None:
        return None
    batch = len(inputs) if isinstance(inputs, torch.Tensor) and inputs.dim() else 1
    return ForwardFailure(explain(trace, model, batch), trace.error)
