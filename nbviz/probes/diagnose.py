"""Find which submodule a failing forward pass failed in, and what it was given."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .guard import probe_mode


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
    """Where a forward pass failed: the innermost submodule running when it raised."""

    module_name: str
    module: nn.Module
    input_shapes: str
    error: BaseException

    def message(self) -> str:
        name = self.module_name or "the model itself"
        text = (f"the forward pass failed in submodule {name!r} ({self.module!r}), "
                f"which received input of shape {self.input_shapes}: {self.error}")
        if isinstance(self.module, nn.Linear):
            text += (f". This Linear layer expects {self.module.in_features} input features; "
                     "check the layer before it (a flatten after convolutions whose output size "
                     "does not match in_features is the usual cause)")
        elif isinstance(self.module, nn.modules.conv._ConvNd):
            text += (f". This convolution expects {self.module.in_channels} input channels; "
                     "check that the data's channels match the model")
        return text


def locate_forward_failure(model: nn.Module, inputs: torch.Tensor) -> ForwardFailure | None:
    """Re-run ``model(inputs)`` under probe guarantees, tracking the module stack.

    Returns None when the pass does not fail this way (the failure was elsewhere).
    """
    names = {m: n for n, m in model.named_modules()}
    stack: list[tuple[nn.Module, Any]] = []
    failure: list[ForwardFailure] = []

    def pre_hook(module: nn.Module, args: Any) -> None:
        stack.append((module, args))

    def post_hook(module: nn.Module, args: Any, output: Any) -> None:
        if stack and stack[-1][0] is module:
            stack.pop()

    handles = []
    try:
        for module in model.modules():
            handles.append(module.register_forward_pre_hook(pre_hook))
            handles.append(module.register_forward_hook(post_hook))
        with probe_mode(model):
            try:
                model(inputs)
            except Exception as exc:  # the very failure we are diagnosing
                if stack:
                    module, args = stack[-1]
                    failure.append(ForwardFailure(names.get(module, "?"), module,
                                                  describe_shapes(args[0] if len(args) == 1 else args),
                                                  exc))
    finally:
        for handle in handles:
            handle.remove()
    return failure[0] if failure else None
