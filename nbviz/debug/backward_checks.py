"""Backward pass: finite non-zero gradients everywhere, frozen parameters, scale by layer."""

from __future__ import annotations

import math

import torch

from ..probes.grad_health import ADVICE, diagnose
from ..probes.param_stats import ParamRecord, Snapshot, histogram
from .context import CheckContext, named_module_of
from .report import Finding

VANISH_AT_INIT = 1e-4


def _gradients(ctx: CheckContext) -> tuple[dict[str, torch.Tensor | None], dict[str, torch.Tensor],
                                            bool]:
    model = ctx.fresh_model()
    model.train()
    loss = ctx.loss(ctx.forward(model, ctx.inputs), ctx.targets)
    params = dict(model.named_parameters())
    if loss.requires_grad:
        loss.backward()
    return ({n: p.grad for n, p in params.items() if p.requires_grad},
            {n: p.detach() for n, p in params.items()}, loss.requires_grad)


def check_backward(ctx: CheckContext) -> list[Finding]:
    titles = ("every trainable parameter gets a gradient", "gradient scale by layer")
    if ctx.loss_value is None:
        reason = "no loss could be computed (see the forward and loss checks)"
        return [Finding("backward.grads", titles[0], "skipped", reason),
                Finding("backward.grad_scale", titles[1], "skipped", reason)]
    grads, weights, connected = _gradients(ctx)
    if not grads:
        return [Finding("backward.grads", titles[0], "skipped", "no trainable parameters"),
                Finding("backward.grad_scale", titles[1], "skipped", "no trainable parameters")]
    if not connected:
        return [Finding("backward.grads", titles[0], "fail",
                        "the loss does not depend on any parameter: the graph was cut "
                        "(torch.no_grad, .detach(), .item(), .numpy() or .data in forward or "
                        "the loss)", "", ADVICE["no_gradient"]),
                Finding("backward.grad_scale", titles[1], "skipped", "no gradients")]
    missing = [n for n, g in grads.items() if g is None]
    nonfinite = [n for n, g in grads.items() if g is not None and not torch.isfinite(g).all()]
    zero = [n for n, g in grads.items()
            if g is not None and weights[n].dim() >= 2 and not bool(g.any())]
    findings = []
    if missing or nonfinite or zero:
        first = (missing or nonfinite or zero)[0]
        parts = []
        if missing:
            parts.append(f"{len(missing)} get no gradient ({', '.join(missing[:4])})")
        if nonfinite:
            parts.append(f"{len(nonfinite)} get NaN/inf gradients ({', '.join(nonfinite[:4])})")
        if zero:
            parts.append(f"{len(zero)} get an all-zero gradient ({', '.join(zero[:4])})")
        fix = ADVICE["no_gradient"] if (missing or zero) else ADVICE["exploding"]
        findings.append(Finding("backward.grads", titles[0], "fail",
                                f"of {len(grads)} trainable tensors, " + "; ".join(parts),
                                named_module_of(ctx.pristine, first), fix,
                                [f"no gradient: {n}" for n in missing[:10]]
                                + [f"non-finite: {n}" for n in nonfinite[:10]]
                                + [f"all zero: {n}" for n in zero[:10]]))
    else:
        findings.append(Finding("backward.grads", titles[0], "pass",
                                f"all {len(grads)} trainable tensors get finite, non-zero gradients"))
    records = {}
    for name, g in grads.items():
        w = weights[name]
        if g is None or not torch.isfinite(g).all():
            continue
        records[name] = ParamRecord(histogram(w, 8), histogram(g, 8),
                                    float(torch.linalg.vector_norm(w.float())),
                                    float(torch.linalg.vector_norm(g.float())), math.nan,
                                    tuple(w.shape))
    # one batch at initialisation: a wider margin than during training (squeeze-excitation
    # layers of a healthy MobileNetV3 start ~3e-4 below the largest layer; 12 sigmoids: 1e-7)
    flags = [f for f in diagnose([Snapshot(0, 0.0, records)], vanish_rel=VANISH_AT_INIT)
             if f.kind in ("vanishing", "exploding")]
    evidence = [f"{n}: grad norm {r.grad_norm:.3g}" for n, r in records.items()][:40]
    if flags:
        flag = flags[0]
        findings.append(Finding("backward.grad_scale", titles[1], "warn",
                                f"{len(flags)} layer(s) flagged; {flag.name} {flag.explanation}",
                                named_module_of(ctx.pristine, flag.name), flag.advice,
                                [f.text() for f in flags[:8]] + evidence))
    else:
        findings.append(Finding("backward.grad_scale", titles[1], "pass",
                                "no layer's gradient vanishes (< 1e-4 of the largest) or "
                                "explodes (norm > 1e3)", evidence=evidence))
    return findings


def check_frozen(ctx: CheckContext) -> Finding:
    title = "parameters left frozen"
    named = list(ctx.pristine.named_parameters())
    frozen = [n for n, p in named if not p.requires_grad]
    if not named:
        return Finding("backward.frozen", title, "skipped", "the model has no parameters")
    if len(frozen) == len(named):
        return Finding("backward.frozen", title, "fail",
                       "every parameter has requires_grad=False: nothing will train",
                       named_module_of(ctx.pristine, frozen[0]),
                       "unfreeze what should train: for p in model.parameters(): "
                       "p.requires_grad_(True)")
    head = named_module_of(ctx.pristine, named[-1][0])
    frozen_head = [n for n in frozen if named_module_of(ctx.pristine, n) == head]
    if frozen_head:
        return Finding("backward.frozen", title, "warn",
                       f"the last layer ({head}) is frozen while {len(named) - len(frozen)} other "
                       "tensors train: usually the head should train", head,
                       f"unfreeze it: model.{head}.requires_grad_(True)",
                       [f"frozen: {n}" for n in frozen[:20]])
    if frozen:
        return Finding("backward.frozen", title, "pass",
                       f"{len(frozen)} of {len(named)} tensors frozen (the head trains)",
                       evidence=[f"frozen: {n}" for n in frozen[:20]])
    return Finding("backward.frozen", title, "pass", f"all {len(named)} parameter tensors train")
