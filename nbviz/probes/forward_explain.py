"""Turn a failed forward pass (a :class:`~nbviz.probes.trace.Trace`) into a sentence and a fix."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import nn

from .trace import Call, Trace

RESHAPES = {"view", "reshape", "flatten", "unflatten", "view_as", "reshape_as", "permute",
            "transpose", "squeeze", "unsqueeze", "expand", "repeat"}


def dims(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


def factor_like(total: int, channels: int) -> str:
    """``3136`` as ``64×7×7`` when it is ``channels`` times a square; else ""."""
    if channels <= 0 or total % channels:
        return ""
    side = math.isqrt(total // channels)
    return f"{channels}×{side}×{side}" if side * side * channels == total else ""


def join_location(module: str, where: str) -> str:
    if module and where:
        return f"{module} ({where})"
    return module or where


@dataclass
class Explanation:
    summary: str
    location: str
    fix: str
    evidence: list[str]


def _producer(trace: Trace, per_sample: int) -> tuple[int, ...] | None:
    """The last multi-axis output whose per-sample size is ``per_sample`` (what was flattened)."""
    for call in reversed(trace.calls):
        shape = call.out_shape
        if shape and len(shape) >= 3 and math.prod(shape[1:]) == per_sample:
            return shape[1:]
    return None


def _linear(trace: Trace, call: Call, module: nn.Linear, name: str, batch: int) -> Explanation:
    shape = call.in_shapes[0] if call.in_shapes else ()
    got = shape[-1] if shape else 0
    want = module.in_features
    source = _producer(trace, got) if len(shape) == 2 else None
    if source is None and len(shape) == 2 and shape[0] != batch:
        source = _producer(trace, shape[0] * got // max(batch, 1))
    evidence = [f"{name} received {dims(shape)}; it is {module!r}"]
    if source is not None and math.prod(source) != got:  # a view changed the batch size
        per = math.prod(source)
        expected = factor_like(want, source[0])
        summary = (f"{dims(source)} = {per} features per sample reach a view that makes rows of "
                   f"{got}, so {name} (expects {want}{' = ' + expected if expected else ''}) "
                   f"gets {shape[0]} rows for a batch of {batch}")
        fix = (f"use nn.Linear({'*'.join(map(str, source))}, {module.out_features}) for {name}, "
               "and x.flatten(1) instead of x.view(-1, ...)")
        return Explanation(summary, join_location(name, call.where), fix, evidence)
    if source is not None:
        expected = factor_like(want, source[0])
        summary = (f"{dims(source)} = {got} features reach {name}, which expects {want}"
                   f"{' = ' + expected if expected else ''}")
        fix = (f"use nn.Linear({'*'.join(map(str, source))}, {module.out_features}) for {name}, "
               "or x.flatten(1) with a size computed from a dummy input")
    else:
        summary = f"{got} features reach {name}, which expects {want}"
        fix = f"use nn.Linear({got}, {module.out_features}) for {name}, or fix the layer before it"
    return Explanation(summary, join_location(name, call.where), fix, evidence)


def _conv(call: Call, module: nn.modules.conv._ConvNd, name: str) -> Explanation:
    shape = call.in_shapes[0] if call.in_shapes else ()
    want = module.in_channels
    evidence = [f"{name} received {dims(shape)}; it is {module!r}"]
    spatial = len(module.kernel_size)
    if len(shape) == spatial + 2 and shape[-1] == want and shape[1] != want:
        summary = (f"the inputs reach {name} channels-last ({dims(shape)}, N×H×W×C) but it "
                   f"expects N×C×H×W with C = {want}")
        fix = "permute the inputs to channels-first: x = x.permute(0, 3, 1, 2)"
    elif len(shape) == spatial + 1:
        summary = f"{name} got {dims(shape)}: the channel axis is missing"
        fix = "add it: x = x.unsqueeze(1)"
    else:
        got = shape[1] if len(shape) > 1 else 0
        summary = f"{name} expects {want} input channels but gets {got} ({dims(shape)})"
        fix = (f"use nn.{type(module).__name__}({got}, {module.out_channels}, ...) for {name}, "
               "or convert the data to the channels the model expects")
    return Explanation(summary, join_location(name, call.where), fix, evidence)


def _reshape(call: Call, name: str) -> Explanation:
    shape = call.in_shapes[0] if call.in_shapes else ()
    asked = call.args[0] if len(call.args) == 1 and isinstance(call.args[0], (tuple, list)) \
        else call.args
    asked_text = ", ".join(map(str, asked))
    per = math.prod(shape[1:]) if len(shape) > 1 else 0
    wanted = [a for a in asked if isinstance(a, int) and a > 0]
    expected = factor_like(wanted[-1], shape[1]) if wanted and len(shape) >= 3 else ""
    summary = (f"x.{call.name}({asked_text}) gets a {dims(shape)} tensor: "
               f"{dims(shape[1:])} = {per} values per sample")
    if wanted:
        summary += f", but asks for rows of {wanted[-1]}{' = ' + expected if expected else ''}"
    fix = (f"use x.flatten(1) and size the next layer for {per} = "
           f"{'*'.join(map(str, shape[1:]))} features (e.g. nn.Linear({'*'.join(map(str, shape[1:]))}, ...))")
    return Explanation(summary, join_location(name, call.where), fix,
                       [f"{call.where}: {call.code}", f"error: {call.error}"])


def explain(trace: Trace, model: nn.Module, batch: int) -> Explanation:
    """Why the recorded pass failed, where, and what to change."""
    modules = dict(model.named_modules())
    call = trace.failed_call
    name = call.module if call is not None else (trace.failed_module or "")
    module = modules.get(name)
    error = trace.error
    if call is not None:
        if isinstance(module, nn.Linear) and call.name == "linear":
            return _linear(trace, call, module, name, batch)
        if isinstance(module, nn.modules.conv._ConvNd) and call.name.startswith("conv"):
            return _conv(call, module, name)
        if call.name in RESHAPES:
            return _reshape(call, name)
        shapes = ", ".join(dims(s) for s in call.in_shapes)
        text = str(error).splitlines()[0] if error else ""
        fix = "make the shapes agree at that line"
        if "scalar type" in text or "dtype" in text:
            fix = "convert the inputs to the model's dtype: x = x.float()"
        elif call.name == "cat":
            fix = "make the tensors agree on every axis but the one concatenated (check dim=)"
        summary = (f"{call.name} in {name or 'forward'} failed on inputs {shapes}: {text}")
        return Explanation(summary, join_location(name, call.where), fix,
                           [f"{call.where}: {call.code}" if call.where else call.name])
    summary = f"the forward pass failed in {name or 'the model'}: {error}"
    return Explanation(summary, name, "see the error and the shapes before it", [])
