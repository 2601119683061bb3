"""Forward pass: shapes through every layer, the failing call, the batch-independence test."""

from __future__ import annotations

import html
from collections.abc import Sequence

import torch

from ..probes.forward_explain import RESHAPES, dims, explain, join_location
from ..probes.trace import Call, record
from .context import CheckContext, pick_output
from .report import Finding


def _shape_table(trace_outputs: Sequence[tuple[str, object, tuple[int, ...]]]) -> str:
    rows = "".join(f"<tr><td><code>{html.escape(n or '(model)')}</code></td>"
                   f"<td>{html.escape(type(m).__name__)}</td><td>{dims(s)}</td></tr>"
                   for n, m, s in trace_outputs[:80])
    return f'<table style="font-size:11px">{rows}</table>'


def check_shapes(ctx: CheckContext) -> Finding:
    """Run one traced forward pass on a copy; on failure name the module or line and the fix."""
    model = ctx.fresh_model()
    model.train()
    with torch.no_grad():
        trace = record(model, ctx.to_device(ctx.inputs))
    ctx.trace = trace
    batch = len(ctx.inputs)
    if trace.error is not None:
        why = explain(trace, model, batch)
        return Finding("forward.shapes", "shapes through every layer", "fail", why.summary,
                       why.location, why.fix, why.evidence,
                       _shape_table(trace.module_outputs))
    out, path = pick_output(trace.output)
    if out is None:
        return Finding("forward.shapes", "shapes through every layer", "fail",
                       f"the model returned a {type(trace.output).__name__} with no tensor in it",
                       "", "return the logits tensor (or a dict/tuple holding it) from forward")
    ctx.forward_ok = True
    ctx.output, ctx.output_path = out.detach(), path
    if out.dim() >= 2:
        ctx.num_classes = int(out.shape[1])
    evidence = [f"input {dims(tuple(ctx.inputs.shape))} -> output{path} {dims(tuple(out.shape))}"]
    evidence += [f"{n or '(model)'}: {dims(s)}" for n, _, s in trace.module_outputs[-6:]]
    return Finding("forward.shapes", "shapes through every layer", "pass",
                   f"{len(trace.module_outputs)} module outputs, final {dims(tuple(out.shape))}"
                   + (f" (output{path} of a {type(trace.output).__name__})" if path else ""),
                   evidence=evidence, evidence_html=_shape_table(trace.module_outputs))


def _batch_changer(calls: list[Call], batch: int) -> Call | None:
    for call in calls:
        if (call.name in RESHAPES and call.in_shapes and call.in_shapes[0][:1] == (batch,)
                and call.out_shape is not None and call.out_shape[:1] != (batch,)):
            return call
    return None


def check_output(ctx: CheckContext) -> Finding:
    """The output keeps the batch axis: one row per sample."""
    if not ctx.forward_ok or ctx.output is None:
        return Finding("forward.output", "one output row per sample", "skipped",
                       "the forward pass failed")
    batch, out = len(ctx.inputs), ctx.output
    if out.dim() == 0 or out.shape[0] != batch:
        culprit = _batch_changer(ctx.trace.calls, batch)
        where = join_location(culprit.module, culprit.where) if culprit else ""
        summary = (f"a batch of {batch} gives an output of shape {dims(tuple(out.shape))}: "
                   "samples are merged or split on the way")
        if culprit is not None:
            summary += (f"; {culprit.name} turns {dims(culprit.in_shapes[0])} into "
                        f"{dims(culprit.out_shape or ())}")
        return Finding("forward.output", "one output row per sample", "fail", summary, where,
                       "keep the batch axis first: x = x.flatten(1) (or x.view(x.size(0), -1)) "
                       "instead of x.view(-1, n)",
                       [f"{culprit.where}: {culprit.code}"] if culprit else [])
    return Finding("forward.output", "one output row per sample", "pass",
                   f"output {dims(tuple(out.shape))} for a batch of {batch}")


def _mixes(out: torch.Tensor, x: torch.Tensor) -> float:
    (grad,) = torch.autograd.grad(out[0].float().sum(), x, retain_graph=True, allow_unused=True,
                                  materialize_grads=True)
    own = float(grad[0].abs().max())
    other = float(grad[1:].abs().max())
    return other / own if own > 0 else (float("inf") if other > 0 else 0.0)


def check_batch_independence(ctx: CheckContext, n: int = 4) -> Finding:
    """d output[0] / d input[j] must be zero for j != 0 (in eval mode, so BatchNorm does not mix)."""
    title = "samples do not mix across the batch"
    if not ctx.forward_ok:
        return Finding("forward.batch_independence", title, "skipped", "the forward pass failed")
    if not ctx.inputs.is_floating_point():
        return Finding("forward.batch_independence", title, "skipped",
                       "the inputs are not floating point (token ids): no input gradient")
    n = min(n, len(ctx.inputs))
    if n < 2:
        return Finding("forward.batch_independence", title, "skipped", "the batch has one sample")
    model = ctx.fresh_model()
    model.eval()
    x = ctx.to_device(ctx.inputs[:n]).clone().requires_grad_(True)
    with torch.enable_grad():
        trace = record(model, x, keep_outputs=True)
        out, _ = pick_output(trace.output)
        if trace.error is not None or out is None or out.dim() == 0 or out.shape[0] != n \
                or not out.requires_grad:
            return Finding("forward.batch_independence", title, "skipped",
                           "the output does not keep a differentiable batch axis")
        ratio = _mixes(out, x)
        if ratio <= 1e-6:
            return Finding("forward.batch_independence", title, "pass",
                           f"the output of sample 0 does not depend on samples 1..{n - 1}")
        culprit = _first_mixing_call(trace.calls, x, n)
    where = join_location(culprit.module, culprit.where) if culprit else ""
    summary = (f"the output of sample 0 depends on the inputs of other samples (gradient ratio "
               f"{ratio:.2g}): something in forward mixes the batch")
    if culprit is not None:
        summary += f", first at {culprit.name} ({dims(culprit.in_shapes[0]) if culprit.in_shapes else ''}" \
                   f" -> {dims(culprit.out_shape or ())})"
    return Finding("forward.batch_independence", title, "fail", summary, where,
                   "reorder axes with x.permute(...)/x.transpose(...) not x.view(...), keep the "
                   "batch axis first, and reduce over dim=1.. not dim=0",
                   [f"{culprit.where}: {culprit.code}"] if culprit and culprit.where else [])


def _first_mixing_call(calls: list[Call], x: torch.Tensor, n: int) -> Call | None:
    changer: Call | None = None
    for call in calls[:400]:
        out = call.output
        if out is None or not out.requires_grad or out.dim() == 0:
            continue
        if call.name in RESHAPES and call.in_shapes and call.in_shapes[0][:1] == (n,) \
                and out.shape[0] != n:
            changer = changer or call
            continue
        if out.shape[0] != n:
            continue
        if _mixes(out, x) > 1e-6:
            return changer or call
    return changer
