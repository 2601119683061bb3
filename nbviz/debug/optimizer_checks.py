"""Optimizer: coverage of trainable parameters, learning-rate sanity, zero_grad placement."""

from __future__ import annotations

from typing import Any

import torch

from .context import CheckContext, named_module_of
from .report import Finding

_POISON = 1e4  # a stale gradient planted before the user's step; zero_grad must remove it
_ADAPTIVE = (torch.optim.Adam, torch.optim.AdamW, torch.optim.RMSprop, torch.optim.Adagrad,
             torch.optim.Adamax, torch.optim.NAdam, torch.optim.RAdam)


def check_coverage(ctx: CheckContext) -> Finding:
    title = "every trainable parameter is in the optimizer"
    opt = ctx.optimizer
    if opt is None:
        return Finding("optimizer.coverage", title, "skipped", "no optimizer given")
    held = {id(p) for g in opt.param_groups for p in g["params"]}
    trainable = [(n, p) for n, p in ctx.user_model.named_parameters() if p.requires_grad]
    missing = [n for n, p in trainable if id(p) not in held]
    if missing:
        every = len(missing) == len(trainable)
        return Finding("optimizer.coverage", title, "fail",
                       (f"none of the model's {len(trainable)} trainable tensors is in the "
                        "optimizer (it was built for another model instance?)" if every else
                        f"{len(missing)} of {len(trainable)} trainable tensors are not in the "
                        f"optimizer, so they never change: {', '.join(missing[:5])}"),
                       named_module_of(ctx.user_model, missing[0]),
                       "build the optimizer after the model is final: "
                       "optimizer = torch.optim.SGD(model.parameters(), lr=...)",
                       [f"not in optimizer: {n}" for n in missing[:20]])
    return Finding("optimizer.coverage", title, "pass",
                   f"all {len(trainable)} trainable tensors are in the optimizer")


def check_lr(ctx: CheckContext) -> Finding:
    title = "learning-rate sanity"
    opt = ctx.optimizer
    if opt is None:
        return Finding("optimizer.lr", title, "skipped", "no optimizer given")
    kind = type(opt).__name__
    evidence = [f"{kind} group {i}: " + ", ".join(f"{k}={v}" for k, v in g.items()
                                                    if k in ("lr", "momentum", "weight_decay"))
                for i, g in enumerate(opt.param_groups)]
    adaptive = isinstance(opt, _ADAPTIVE)
    for i, group in enumerate(opt.param_groups):
        lr = float(group.get("lr", 0.0))
        where = f"optimizer.param_groups[{i}]"
        if lr <= 0:
            return Finding("optimizer.lr", title, "fail", f"lr is {lr}: nothing will change",
                           where, f"set a positive lr, e.g. torch.optim.{kind}(params, lr=1e-3)",
                           evidence)
        high, typical = (0.01, 1e-3) if adaptive else (1.0, 0.01)
        if lr > high:
            return Finding("optimizer.lr", title, "fail" if lr > 10 * high else "warn",
                           f"lr={lr:g} is high for {kind} (typical {typical:g}, above {high:g} "
                           "training usually diverges)", where,
                           f"lower it: torch.optim.{kind}(params, lr={typical:g}), or run the "
                           "learning-rate range test", evidence)
        if lr < 1e-6:
            return Finding("optimizer.lr", title, "warn",
                           f"lr={lr:g} is so small that the weights barely move", where,
                           f"raise it: torch.optim.{kind}(params, lr={typical:g}), or run the "
                           "learning-rate range test", evidence)
        momentum = group.get("momentum", 0.0)
        if isinstance(momentum, float) and momentum >= 1:
            return Finding("optimizer.lr", title, "fail",
                           f"momentum={momentum} (>= 1) makes the updates grow without bound",
                           where, "use momentum=0.9", evidence)
        decay = float(group.get("weight_decay", 0.0) or 0.0)
        if decay > (1.0 if isinstance(opt, torch.optim.AdamW) else 0.1):
            return Finding("optimizer.lr", title, "warn",
                           f"weight_decay={decay:g} pulls the weights to zero faster than they "
                           "learn", where, "use weight_decay=5e-4 (SGD) or 0.01 (AdamW)",
                           evidence)
    return Finding("optimizer.lr", title, "pass", "; ".join(evidence))


def check_zero_grad(ctx: CheckContext) -> Finding:
    """Run the user's ``train_step`` once on copies with a stale gradient planted beforehand."""
    title = "gradients are cleared every step (zero_grad)"
    if ctx.train_step is None:
        return Finding("optimizer.zero_grad", title, "skipped",
                       "pass train_step=fn(model, optimizer, inputs, targets) (your step) to "
                       "check zero_grad, backward and step")
    model = ctx.fresh_model()
    model.train()
    opt = ctx.fresh_optimizer(model) or torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=1e-3)
    params = [p for p in model.parameters() if p.requires_grad]
    seen: list[list[torch.Tensor | None]] = []
    step = opt.step

    def spy_step(*args: Any, **kwargs: Any) -> Any:
        seen.append([None if p.grad is None else p.grad.detach().clone() for p in params])
        return step(*args, **kwargs)

    opt.step = spy_step  # type: ignore[method-assign]
    for p in params:
        p.grad = torch.full_like(p, _POISON)
    try:
        ctx.train_step(model, opt, ctx.to_device(ctx.inputs), ctx.to_device(ctx.targets))
    except Exception as exc:
        return Finding("optimizer.zero_grad", title, "fail",
                       f"train_step raised {type(exc).__name__}: {exc}", "train_step",
                       "make train_step(model, optimizer, inputs, targets) run on its arguments")
    if not seen:
        return Finding("optimizer.zero_grad", title, "fail",
                       "train_step never called optimizer.step(): the weights never change",
                       "train_step", "call optimizer.step() after loss.backward()")
    grads = [g for g in seen[0] if g is not None]
    if any(bool(((g - _POISON).abs() < 0.5 * _POISON).float().mean() > 0.5) for g in grads):
        return Finding("optimizer.zero_grad", title, "fail",
                       "gradients from the previous step were still there when "
                       "optimizer.step() ran: they add up across steps", "train_step",
                       "call optimizer.zero_grad() before loss.backward() in every step")
    if not grads or all(not bool(g.any()) for g in grads):
        return Finding("optimizer.zero_grad", title, "fail",
                       "the gradients were empty or zero when optimizer.step() ran: zero_grad "
                       "between backward and step, or no loss.backward()", "train_step",
                       "order the step as optimizer.zero_grad(); loss.backward(); "
                       "optimizer.step()")
    return Finding("optimizer.zero_grad", title, "pass",
                   "stale gradients were cleared and fresh ones were present at optimizer.step()")
