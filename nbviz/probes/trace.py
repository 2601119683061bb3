"""Record one forward pass: every torch call with its shapes, module and line in ``forward``.

A :class:`~torch.overrides.TorchFunctionMode` sees each torch function and tensor method
(``view``, ``reshape``, ``cat``, ``linear``, ...) as it runs; module hooks keep the stack of
running submodules. Each call is attributed to the innermost frame of the user's own code
(not torch's, not this package's), which is how a failing ``x.view(-1, 3136)`` is found by
file and line.
"""

from __future__ import annotations

import linecache
import os
import sys
from dataclasses import dataclass, field
from types import CodeType, FrameType
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

_TORCH_DIR = os.path.dirname(torch.__file__)
_HERE = os.path.dirname(os.path.abspath(__file__))
_SKIP_NAMES = {"__get__", "size", "dim", "numel", "is_floating_point", "__len__", "item",
               "requires_grad_", "retain_grad", "detach", "__format__", "__repr__",
               "tolist", "__bool__", "__index__", "__int__", "__float__", "__hash__"}


def shape_of(value: Any) -> tuple[int, ...] | None:
    return tuple(value.shape) if isinstance(value, torch.Tensor) else None


def tensor_shapes(values: Any) -> list[tuple[int, ...]]:
    """Shapes of the tensors among ``values`` (one level of tuples/lists looked into)."""
    shapes = []
    for value in values:
        if isinstance(value, torch.Tensor):
            shapes.append(tuple(value.shape))
        elif isinstance(value, (tuple, list)):
            shapes.extend(tuple(v.shape) for v in value if isinstance(v, torch.Tensor))
    return shapes


@dataclass
class Call:
    """One torch call made during the recorded forward pass."""

    name: str
    where: str  # "file.py:42" in the user's code, "" when none was found
    code: str  # that source line, stripped
    module: str  # dotted name of the innermost running submodule ("" for the model itself)
    in_shapes: list[tuple[int, ...]]
    args: tuple[Any, ...]  # the non-tensor arguments, for messages (shapes asked of view)
    out_shape: tuple[int, ...] | None = None
    output: torch.Tensor | None = None
    error: BaseException | None = None


@dataclass
class Trace:
    """What :func:`record` saw."""

    calls: list[Call] = field(default_factory=list)
    module_outputs: list[tuple[str, nn.Module, tuple[int, ...]]] = field(default_factory=list)
    failed_call: Call | None = None
    failed_module: str | None = None  # innermost module running when the pass raised
    error: BaseException | None = None
    output: Any = None


class _Recorder(TorchFunctionMode):
    def __init__(self, trace: Trace, stack: list[str], stop: CodeType, keep: bool) -> None:
        super().__init__()
        self.trace, self.stack, self.stop, self.keep = trace, stack, stop, keep

    def _where(self) -> tuple[str, str]:
        frame: FrameType | None = sys._getframe(2)
        while frame is not None and frame.f_code is not self.stop:
            path = frame.f_code.co_filename
            if not (path.startswith(_TORCH_DIR) or path.startswith(_HERE) or path.startswith("<")):
                line = frame.f_lineno
                return f"{path}:{line}", linecache.getline(path, line).strip()
            frame = frame.f_back
        return "", ""

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        name = getattr(func, "__name__", str(func))
        if name in _SKIP_NAMES:
            return func(*args, **kwargs)
        try:
            out = func(*args, **kwargs)
        except Exception as exc:
            if self.trace.failed_call is None:
                where, code = self._where()
                self.trace.failed_call = Call(
                    name, where, code, self.stack[-1] if self.stack else "",
                    tensor_shapes(args), tuple(a for a in args if not isinstance(a, torch.Tensor)),
                    error=exc)
            raise
        if isinstance(out, torch.Tensor):
            where, code = self._where()
            self.trace.calls.append(Call(
                name, where, code, self.stack[-1] if self.stack else "", tensor_shapes(args),
                tuple(a for a in args if not isinstance(a, torch.Tensor)), tuple(out.shape),
                out if self.keep else None))
        return out


def _run(model: nn.Module, inputs: Any) -> Any:
    return model(inputs)


def record(model: nn.Module, inputs: Any, *, keep_outputs: bool = False) -> Trace:
    """Run ``model(inputs)`` once, recording calls and module outputs; never raises.

    The caller sets the mode (train/eval) and grad mode. ``keep_outputs`` keeps every
    call's output tensor (for the batch-independence test).
    """
    trace = Trace()
    names = {m: n for n, m in model.named_modules()}
    stack: list[str] = []

    def pre_hook(module: nn.Module, args: Any) -> None:
        stack.append(names.get(module, "?"))

    def post_hook(module: nn.Module, args: Any, output: Any) -> None:
        name = names.get(module, "?")
        if stack and stack[-1] == name:
            stack.pop()
        if isinstance(output, torch.Tensor):
            trace.module_outputs.append((name, module, tuple(output.shape)))

    handles = []
    try:
        for module in model.modules():
            handles.append(module.register_forward_pre_hook(pre_hook))
            handles.append(module.register_forward_hook(post_hook))
        with _Recorder(trace, stack, _run.__code__, keep_outputs):
            try:
                trace.output = _run(model, inputs)
            except Exception as exc:
                trace.error = exc
                trace.failed_module = stack[-1] if stack else ""
    finally:
        for handle in handles:
            handle.remove()
    return trace
