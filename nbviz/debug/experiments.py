"""Experiments on a copy of the model: overfit one batch, and the learning-rate range test."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch

from .context import CheckContext
from .pictures import curve_svg
from .report import Finding


@dataclass
class Curve:
    """Losses of one experiment and its conclusion."""

    losses: list[float] = field(default_factory=list)
    lrs: list[float] = field(default_factory=list)
    suggestion: float | None = None
    timed_out: bool = False


def _train(ctx: CheckContext, adam_lr: float | None, steps: int, batch: int,
           seconds: float, stop_below: float = 0.05) -> Curve:
    """Train a copy on one batch, with the user's optimizer (``adam_lr`` None) or Adam.

    Stops early once the loss is below ``stop_below`` times its first value.
    """
    model = ctx.fresh_model()
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = (ctx.fresh_optimizer(model) if adam_lr is None else None) or \
        torch.optim.Adam(params, lr=adam_lr or 1e-3)
    x, y = ctx.to_device(ctx.inputs[:batch]), ctx.to_device(ctx.targets[:batch])
    curve = Curve()
    end = time.perf_counter() + seconds
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = ctx.loss_fn(ctx.forward(model, x), y)
        value = float(loss.detach())
        curve.losses.append(value)
        if not math.isfinite(value) or not loss.requires_grad:
            break
        if time.perf_counter() > end:
            curve.timed_out = True
            break
        if len(curve.losses) > 5 and value < stop_below * curve.losses[0]:
            break  # the answer is clear: no need to go on
        loss.backward()
        opt.step()
    return curve


def _learned(curve: Curve) -> bool:
    if len(curve.losses) < 2 or not all(math.isfinite(v) for v in curve.losses):
        return False
    first, last = curve.losses[0], min(curve.losses[-3:])
    return last < 0.8 * first or last < 0.05  # falling clearly (slow setups may take longer)


def _memorised(curve: Curve) -> bool:
    """Clearly fitting the batch: the loss at a third of where it started, or near zero."""
    if len(curve.losses) < 2 or not all(math.isfinite(v) for v in curve.losses):
        return False
    return min(curve.losses[-3:]) < 0.3 * curve.losses[0] or min(curve.losses[-3:]) < 0.05


def overfit_one_batch(ctx: CheckContext, steps: int = 60, batch: int = 16,
                      seconds: float = 6.0) -> Finding:
    """Train a copy on one small batch; a healthy setup drives its loss down quickly.

    It fails only when the loss does not fall by 20% in ``steps`` steps (or diverges).

    With the user's optimizer first; if that does not learn, with Adam(lr=1e-3), to tell an
    optimizer setting from a model or loss problem.
    """
    title = "overfit one batch"
    if ctx.loss_value is None:
        return Finding("experiments.overfit", title, "skipped",
                       "no loss could be computed (see the forward and loss checks)")
    if not any(p.requires_grad for p in ctx.pristine.parameters()):
        return Finding("experiments.overfit", title, "skipped", "no trainable parameters")
    n = min(batch, len(ctx.inputs))
    user = _train(ctx, None if ctx.optimizer is not None else 1e-3, steps, n, seconds,
                  stop_below=0.5)
    mine = "your optimizer" if ctx.optimizer is not None else "Adam(lr=1e-3)"
    svg = curve_svg(range(len(user.losses)), user.losses, title=f"loss on {n} samples, {mine}")
    evidence = [f"{mine}: loss {user.losses[0]:.3g} -> {user.losses[-1]:.3g} in "
                f"{len(user.losses)} steps"]
    if _learned(user):
        return Finding("experiments.overfit", title, "pass",
                       f"loss on {n} samples falls {user.losses[0]:.3g} -> {min(user.losses):.3g} "
                       f"in {len(user.losses)} steps ({mine})", evidence=evidence,
                       evidence_html=svg)
    if user.timed_out:  # a slow machine, not a verdict
        return Finding("experiments.overfit", title, "skipped",
                       f"ran out of time after {len(user.losses)} steps ({seconds:g} s; loss "
                       f"{user.losses[0]:.3g} -> {user.losses[-1]:.3g}); run it alone with "
                       "more time", evidence=evidence, evidence_html=svg)
    timed_out = False
    ladder = (1e-3, 1e-2) if ctx.optimizer is not None else (1e-2,)
    for lr in ladder:  # can the model fit the batch at all, with a forgiving optimizer?
        adam = _train(ctx, lr, steps, n, seconds)
        timed_out |= adam.timed_out
        evidence.append(f"Adam(lr={lr:g}): loss {adam.losses[0]:.3g} -> {adam.losses[-1]:.3g}")
        svg += curve_svg(range(len(adam.losses)), adam.losses, title=f"Adam(lr={lr:g})")
        if not _memorised(adam):
            continue
        if ctx.optimizer is None:
            return Finding("experiments.overfit", title, "pass",
                           f"loss on {n} samples falls {adam.losses[0]:.3g} -> "
                           f"{min(adam.losses):.3g} with Adam(lr={lr:g})", evidence=evidence,
                           evidence_html=svg)
        current = ctx.optimizer.param_groups[0].get("lr")
        return Finding("experiments.overfit", title, "fail",
                       f"with your optimizer the loss on {n} samples goes {user.losses[0]:.3g} -> "
                       f"{user.losses[-1]:.3g} in {len(user.losses)} steps, while Adam(lr={lr:g}) "
                       f"gets it to {min(adam.losses):.3g}: the optimizer settings "
                       f"(lr={current}) are the problem", "optimizer",
                       "change the learning rate (run the learning-rate range test), e.g. "
                       f"torch.optim.Adam(model.parameters(), lr={lr:g})", evidence, svg)
    if timed_out:
        return Finding("experiments.overfit", title, "skipped",
                       f"ran out of time ({seconds:g} s per run) before the loss fell; run it "
                       "alone with more time", evidence=evidence, evidence_html=svg)
    return Finding("experiments.overfit", title, "fail",
                   f"the model cannot fit {n} samples: the loss stays near {user.losses[0]:.3g} "
                   f"even with Adam (lr {', '.join(f'{lr:g}' for lr in ladder)}): the model, the "
                   "loss or the labels are broken", "",
                   "look at the failed checks above; check the loss matches the output "
                   "(logits for CrossEntropyLoss) and that forward uses every layer", evidence, svg)


def suggest_lr(lrs: list[float], losses: list[float]) -> float:
    """Where the smoothed loss falls fastest before its minimum (skipping the warm-up steps)."""
    low = int(min(range(len(losses)), key=losses.__getitem__))
    start = min(len(lrs) // 10 + 1, max(low - 2, 1))
    logs = [math.log10(v) for v in lrs]
    best, best_slope = lrs[low] / 10, 0.0
    for i in range(start, max(low, start + 1)):
        if 0 < i < len(lrs) - 1:
            slope = (losses[i + 1] - losses[i - 1]) / (logs[i + 1] - logs[i - 1])
            if slope < best_slope:
                best, best_slope = lrs[i], slope
    return best


def lr_range_test(ctx: CheckContext, lo: float = 1e-6, hi: float = 10.0, steps: int = 80,
                  batch: int = 32, seconds: float = 10.0) -> tuple[Finding, Curve]:
    """Smith's test on a copy: raise the lr exponentially each step and watch the loss.

    The suggested lr is where the smoothed loss falls fastest (steepest negative slope).
    """
    title = "learning-rate range test"
    if ctx.loss_value is None:
        return Finding("experiments.lr_range", title, "skipped", "no loss could be computed"), Curve()
    model = ctx.fresh_model()
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = ctx.fresh_optimizer(model) or torch.optim.SGD(params, lr=lo, momentum=0.9)
    x_all, y_all = ctx.data_x, ctx.data_y
    n = len(x_all)
    factor = (hi / lo) ** (1 / max(steps - 1, 1))
    curve, smooth, best = Curve(), 0.0, math.inf
    end = time.perf_counter() + seconds
    for i in range(steps):
        lr = lo * factor ** i
        for group in opt.param_groups:
            group["lr"] = lr
        start = (i * batch) % max(n - batch + 1, 1)
        x, y = ctx.to_device(x_all[start:start + batch]), ctx.to_device(y_all[start:start + batch])
        opt.zero_grad(set_to_none=True)
        loss = ctx.loss_fn(ctx.forward(model, x), y)
        value = float(loss.detach())
        if not math.isfinite(value):
            break
        smooth = value if i == 0 else 0.8 * smooth + 0.2 * value
        curve.lrs.append(lr)
        curve.losses.append(smooth)
        best = min(best, smooth)
        if smooth > 4 * best or time.perf_counter() > end:
            break
        loss.backward()
        opt.step()
    if len(curve.losses) < 5:
        return Finding("experiments.lr_range", title, "warn",
                       f"the loss diverged after {len(curve.losses)} steps from lr={lo:g}", "",
                       "check the data and loss first; then try a much smaller lr"), curve
    curve.suggestion = suggest_lr(curve.lrs, curve.losses)
    svg = curve_svg(curve.lrs, curve.losses, title="smoothed loss vs learning rate", log_x=True,
                    mark_x=curve.suggestion)
    current = ctx.optimizer.param_groups[0].get("lr") if ctx.optimizer is not None else None
    summary = f"the loss falls fastest at lr ≈ {curve.suggestion:.2g}"
    if current is not None:
        summary += f" (yours: {current:g})"
    return Finding("experiments.lr_range", title, "pass", summary, "",
                   f"set lr={curve.suggestion:.2g} (or a bit lower)",
                   [f"{len(curve.lrs)} steps from {curve.lrs[0]:.1g} to {curve.lrs[-1]:.2g}"],
                   svg), curve
