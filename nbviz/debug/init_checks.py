"""Initialisation: the first loss vs -log(1/C), output scale, saturated and dead units."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..probes.forward_explain import join_location
from ..probes.trace import record
from .context import CheckContext
from .report import Finding

_RELU = {"relu", "relu_", "leaky_relu", "relu6", "hardtanh"}
_SQUASH = {"tanh": (-1.0, 1.0), "tanh_": (-1.0, 1.0), "sigmoid": (0.0, 1.0),
           "sigmoid_": (0.0, 1.0)}


def check_first_loss(ctx: CheckContext) -> Finding:
    title = "first loss vs -log(1/C)"
    if ctx.loss_value is None or ctx.num_classes is None:
        return Finding("initialisation.first_loss", title, "skipped",
                       "no loss was computed (see the forward and loss checks)")
    if not isinstance(ctx.loss_fn, nn.CrossEntropyLoss) or ctx.num_classes < 2:
        return Finding("initialisation.first_loss", title, "skipped",
                       f"the expected first loss is known for CrossEntropyLoss over C >= 2 "
                       f"classes; this is {type(ctx.loss_fn).__name__}")
    expected = math.log(ctx.num_classes)
    loss = ctx.loss_value
    evidence = [f"first loss {loss:.4g}, -log(1/{ctx.num_classes}) = {expected:.4g}"]
    if not math.isfinite(loss):
        return Finding("initialisation.first_loss", title, "fail", f"the first loss is {loss}",
                       "", "see the data and forward checks for NaN sources", evidence)
    if loss > 4 * expected and loss - expected > 2:
        status = "fail"
    elif loss > 1.6 * expected and loss - expected > 0.7:
        status = "warn"
    else:
        return Finding("initialisation.first_loss", title, "pass", evidence[0], evidence=evidence)
    return Finding("initialisation.first_loss", title, status,
                   f"the first loss is {loss:.3g}, {loss / expected:.1f} times the {expected:.3g} "
                   f"of a model that guesses uniformly over {ctx.num_classes} classes: the "
                   "initial outputs are too large or confidently wrong", "",
                   "keep the default initialisation (or nn.init.kaiming_normal_ for ReLU "
                   "layers), and scale the last layer down: nn.init.zeros_(model.fc.weight)",
                   evidence)


def check_output_scale(ctx: CheckContext) -> Finding:
    title = "output scale at initialisation"
    out = ctx.output
    if out is None or not out.is_floating_point():
        return Finding("initialisation.output_scale", title, "skipped", "no output to measure")
    finite = out[torch.isfinite(out)]
    if finite.numel() < out.numel():
        return Finding("initialisation.output_scale", title, "fail",
                       f"{out.numel() - finite.numel()} output values are NaN or inf", "",
                       "check the inputs (data.finite) and the initialisation")
    std = float(finite.float().std()) if finite.numel() > 1 else 0.0
    peak = float(finite.abs().max()) if finite.numel() else 0.0
    evidence = [f"output std {std:.3g}, max |value| {peak:.3g}"]
    if std > 10 or peak > 100:
        return Finding("initialisation.output_scale", title, "warn",
                       f"outputs at initialisation have std {std:.3g} (max {peak:.3g}): "
                       "the model starts confident, so early gradients are erratic", "",
                       "use the default (Kaiming-uniform) initialisation, or rescale the last "
                       "layer's weights: model.fc.weight.data.mul_(0.1)", evidence)
    return Finding("initialisation.output_scale", title, "pass", evidence[0], evidence=evidence)


def check_units(ctx: CheckContext) -> list[Finding]:
    """Saturated tanh/sigmoid units and dead ReLU units on the first batch, at initialisation."""
    titles = ("saturated units at initialisation", "dead units at initialisation")
    if not ctx.forward_ok:
        return [Finding("initialisation.saturation", titles[0], "skipped", "the forward pass failed"),
                Finding("initialisation.dead_units", titles[1], "skipped", "the forward pass failed")]
    model = ctx.fresh_model()
    model.train()
    with torch.no_grad():
        trace = record(model, ctx.to_device(ctx.inputs), keep_outputs=True)
    saturated: list[tuple[str, float]] = []
    dead: list[tuple[str, float, int]] = []
    for call in trace.calls:
        out = call.output
        if out is None or not out.is_floating_point() or out.dim() < 2 or len(out) < 2:
            continue
        where = join_location(call.module, call.where)
        if call.name in _SQUASH:
            lo, hi = _SQUASH[call.name]
            margin = 0.01 * (hi - lo)
            share = float(((out < lo + margin) | (out > hi - margin)).float().mean())
            if share > 0.5:
                saturated.append((where, share))
        elif call.name in _RELU:
            units = out.transpose(0, 1).reshape(out.shape[1], -1)
            share = float((units.abs().amax(1) == 0).float().mean())
            dead.append((where, share, out.shape[1]))
    findings = []
    if saturated:
        where, share = max(saturated, key=lambda s: s[1])
        findings.append(Finding("initialisation.saturation", titles[0], "warn",
                                f"{share:.0%} of the outputs of the tanh/sigmoid at {where} are "
                                "saturated (within 1% of their limits): their gradient is ~0",
                                where, "normalise the inputs, use Xavier initialisation "
                                "(nn.init.xavier_uniform_) or ReLU with Kaiming initialisation",
                                [f"{w}: {s:.0%} saturated" for w, s in saturated]))
    else:
        findings.append(Finding("initialisation.saturation", titles[0], "pass",
                                "no tanh/sigmoid layer is mostly saturated"))
    bad = [d for d in dead if d[1] > 0.5]
    if bad:
        where, share, count = max(bad, key=lambda d: d[1])
        findings.append(Finding("initialisation.dead_units", titles[1],
                                "fail" if share == 1.0 else "warn",
                                f"{share:.0%} of the {count} units after the ReLU at {where} are "
                                "zero for every sample of the batch: they get no gradient", where,
                                "check the initialisation (a large negative bias?), normalise the "
                                "inputs, or use nn.LeakyReLU(0.01)",
                                [f"{w}: {s:.0%} of {u} dead" for w, s, u in dead]))
    else:
        worst = max((d[1] for d in dead), default=0.0)
        findings.append(Finding("initialisation.dead_units", titles[1], "pass",
                                f"{len(dead)} ReLU outputs, at most {worst:.0%} dead units"))
    return findings
