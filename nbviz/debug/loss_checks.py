"""Loss: the call itself, what the loss is fed (softmax/sigmoid/log-probs), MSE on classes, sum."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..probes.forward_explain import dims, join_location
from .context import CheckContext
from .report import Finding

_TITLE = "the loss accepts the outputs and targets"


def _explain_error(ctx: CheckContext, exc: Exception) -> tuple[str, str]:
    text = str(exc).splitlines()[0]
    out, y = ctx.output, ctx.targets
    shapes = f"outputs {dims(tuple(out.shape)) if out is not None else '?'}, targets {dims(tuple(y.shape))} {y.dtype}"
    if "out of bounds" in text:
        return (f"a label is out of range for the model's outputs ({shapes}): {text}",
                "make the last layer output as many classes as there are labels (0..C-1)")
    if "between 0 and 1" in text:
        return (f"BCELoss got values outside [0, 1]: it needs probabilities, the model gives "
                f"logits ({text})", "use nn.BCEWithLogitsLoss() on the logits")
    if "must be the same as input size" in text or "same size" in text:
        return (f"{shapes} differ in shape: {text}",
                "make them agree: outputs.squeeze(1) for one output per sample, or "
                "targets.float().view_as(outputs)")
    if "Long" in text or "scalar type" in text or "dtype" in text:
        return (f"{shapes}: {text}",
                "class indices must be long (y.long()); regression/BCE targets float (y.float())")
    return f"{type(exc).__name__}: {text} ({shapes})", "make the outputs and targets fit the loss"


def check_loss_call(ctx: CheckContext) -> Finding:
    if not ctx.forward_ok or ctx.output is None:
        return Finding("loss.call", _TITLE, "skipped", "the forward pass failed")
    try:
        value = ctx.loss(ctx.output, ctx.targets)
        number = float(value.detach().float().mean()) if isinstance(value, torch.Tensor) else \
            float(value)
    except Exception as exc:
        summary, fix = _explain_error(ctx, exc)
        return Finding("loss.call", _TITLE, "fail", summary, "loss_fn", fix)
    if isinstance(value, torch.Tensor) and value.dim() > 0:
        return Finding("loss.call", _TITLE, "fail",
                       f"the loss is a {dims(tuple(value.shape))} tensor, not a scalar", "loss_fn",
                       "reduce it: loss = loss_fn(outputs, targets).mean() (reduction='mean')")
    ctx.loss_value = number
    if not math.isfinite(number):
        return Finding("loss.call", _TITLE, "fail", f"the first loss is {number}", "loss_fn",
                       "check the inputs for NaN (data.finite) and log() of zero in the loss")
    return Finding("loss.call", _TITLE, "pass", f"first loss {number:.4g}")


def _last_call(ctx: CheckContext, names: set[str], module_types: tuple[type, ...]) -> str:
    trace = ctx.trace
    if trace is None:
        return ""
    modules = dict(ctx.pristine.named_modules())
    for call in reversed(trace.calls):
        if call.name in names or isinstance(modules.get(call.module), module_types):
            return join_location(call.module, call.where)
    return ""


def _ends_in(ctx: CheckContext, names: set[str], module_types: tuple[type, ...]) -> bool:
    """True when the judged output was produced by one of these calls (or modules)."""
    trace = ctx.trace
    if trace is None or ctx.output is None:
        return False
    modules = dict(ctx.pristine.named_modules())
    for call in reversed(trace.calls):
        if call.out_shape == tuple(ctx.output.shape):
            return call.name in names or isinstance(modules.get(call.module), module_types)
    return False


def check_loss_input(ctx: CheckContext) -> Finding:
    """Probabilities fed to a loss that wants logits, and the reverse."""
    title = "the loss gets what it expects (logits, probabilities, log-probabilities)"
    out, loss = ctx.output, ctx.loss_fn
    if out is None or not out.is_floating_point():
        return Finding("loss.input", title, "skipped", "no floating-point output")
    if not isinstance(loss, nn.Module):
        return Finding("loss.input", title, "skipped",
                       f"loss_fn is a {type(loss).__name__}, not a torch.nn loss module")
    rows = out.dim() >= 2 and out.shape[1] > 1
    in_unit = bool(((out >= 0) & (out <= 1)).all())
    sums = out.sum(1) if rows else None
    probs = rows and in_unit and sums is not None and bool(torch.allclose(sums, torch.ones_like(sums), atol=1e-3))
    logprobs = rows and bool((out <= 0).all()) and bool(
        torch.allclose(out.exp().sum(1), torch.ones(out.shape[0], device=out.device), atol=1e-3))
    softmax_at = _last_call(ctx, {"softmax", "log_softmax"}, (nn.Softmax, nn.LogSoftmax))
    if isinstance(loss, nn.CrossEntropyLoss) and probs:
        return Finding("loss.input", title, "fail",
                       "the outputs are probabilities (rows sum to 1) but CrossEntropyLoss applies "
                       "log_softmax itself: the gradients shrink and training stalls",
                       softmax_at or "forward", "return the logits: drop the softmax at the end "
                       "of forward (apply torch.softmax only for predictions)")
    if isinstance(loss, nn.CrossEntropyLoss) and logprobs:
        return Finding("loss.input", title, "warn",
                       "the outputs are log-probabilities and CrossEntropyLoss applies "
                       "log_softmax again (harmless but redundant)", softmax_at or "forward",
                       "either drop log_softmax from forward, or use nn.NLLLoss()")
    if isinstance(loss, nn.NLLLoss) and not logprobs:
        what = "probabilities (softmax)" if probs else "raw logits"
        return Finding("loss.input", title, "fail",
                       f"NLLLoss needs log-probabilities but gets {what}", softmax_at or "forward",
                       "end forward with F.log_softmax(x, dim=1), or use nn.CrossEntropyLoss() "
                       "on the logits")
    if isinstance(loss, nn.BCEWithLogitsLoss) and in_unit and _ends_in(ctx, {"sigmoid", "sigmoid_"},
                                                                       (nn.Sigmoid,)):
        return Finding("loss.input", title, "fail",
                       "the outputs come from a sigmoid but BCEWithLogitsLoss applies the "
                       "sigmoid itself", _last_call(ctx, {"sigmoid", "sigmoid_"}, (nn.Sigmoid,)),
                       "drop the sigmoid at the end of forward (keep it for predictions)")
    if isinstance(loss, nn.BCELoss) and not _ends_in(ctx, {"sigmoid", "sigmoid_", "softmax"},
                                                     (nn.Sigmoid, nn.Softmax)):
        return Finding("loss.input", title, "fail",
                       "BCELoss needs probabilities, but the outputs do not come from a sigmoid "
                       "(raw logits)", "loss_fn",
                       "use nn.BCEWithLogitsLoss() on the logits (numerically safer than "
                       "sigmoid + BCELoss)")
    return Finding("loss.input", title, "pass",
                   f"{type(loss).__name__} on outputs in [{float(out.min()):.3g}, "
                   f"{float(out.max()):.3g}]")


def check_regression_on_classes(ctx: CheckContext) -> Finding:
    title = "a regression loss is not used on class indices"
    loss, out, y = ctx.loss_fn, ctx.output, ctx.targets
    if not isinstance(loss, (nn.MSELoss, nn.L1Loss, nn.SmoothL1Loss, nn.HuberLoss)):
        return Finding("loss.regression_on_classes", title, "skipped",
                       f"the loss is {type(loss).__name__}, not a regression loss")
    if out is None:
        return Finding("loss.regression_on_classes", title, "skipped", "no output")
    integer = not y.is_floating_point() or bool(torch.all(y == y.round()))
    distinct = int(torch.unique(ctx.data_y).numel())
    mismatch = tuple(out.shape) != tuple(y.shape)
    if integer and distinct <= 50 and (not y.is_floating_point() or mismatch):
        return Finding("loss.regression_on_classes", title, "fail",
                       f"{type(loss).__name__} on {distinct} whole-number targets "
                       f"({dims(tuple(y.shape))}) against outputs {dims(tuple(out.shape))}: "
                       "class indices treated as numbers (and broadcast)", "loss_fn",
                       "use nn.CrossEntropyLoss() with C outputs and long class indices")
    if mismatch:
        return Finding("loss.regression_on_classes", title, "fail",
                       f"outputs {dims(tuple(out.shape))} and targets {dims(tuple(y.shape))} "
                       "differ, so the loss broadcasts them against each other", "loss_fn",
                       "make them the same shape: targets.view_as(outputs)")
    return Finding("loss.regression_on_classes", title, "pass",
                   f"outputs and targets both {dims(tuple(y.shape))}")


def check_reduction(ctx: CheckContext) -> Finding:
    title = "loss reduction"
    reduction = getattr(ctx.loss_fn, "reduction", None)
    batch = ctx.loader_batch_size
    if reduction is None:
        return Finding("loss.reduction", title, "skipped", "the loss has no reduction setting")
    if reduction == "sum" and batch >= 32:
        return Finding("loss.reduction", title, "warn",
                       f"reduction='sum' with batches of {batch}: the gradient is {batch} times "
                       "larger than with 'mean', so the effective learning rate depends on the "
                       "batch size", "loss_fn",
                       f"use reduction='mean' (the default), or divide the lr by {batch}")
    if reduction == "none":
        return Finding("loss.reduction", title, "warn", "reduction='none' gives a loss per sample",
                       "loss_fn", "reduce before backward: loss.mean()")
    return Finding("loss.reduction", title, "pass", f"reduction={reduction!r}")
