"""``nbviz.check``: run the whole debugging checklist on copies of a model and its data."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import nn

from ..probes.guard import model_device
from ..session.base import check_model
from ..session.batches import BatchFormat
from . import (
    backward_checks,
    data_checks,
    experiments,
    forward_checks,
    init_checks,
    loss_checks,
    optimizer_checks,
)
from .context import CheckContext, TrainStep, preserved_rng, sample_loader
from .report import GROUPS, Finding, Report

EXPERIMENTS = ("overfit", "lr_range")


def _validate(loader: object, loss_fn: object, optimizer: object, val_loader: object,
              train_step: object, experiments_: Sequence[str]) -> None:
    for name, value, required in (("loader", loader, True), ("val_loader", val_loader, False)):
        if value is None and not required:
            continue
        if isinstance(value, (str, bytes, torch.Tensor)) or not isinstance(value, Iterable):
            raise TypeError(f"{name} must be an iterable of (inputs, targets) batches such as a "
                            f"torch DataLoader, got {type(value).__name__}")
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable as loss_fn(outputs, targets), got "
                        f"{type(loss_fn).__name__}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    if train_step is not None and not callable(train_step):
        raise TypeError("train_step must be callable as train_step(model, optimizer, inputs, "
                        "targets)")
    unknown = [e for e in experiments_ if e not in EXPERIMENTS]
    if unknown:
        raise ValueError(f"unknown experiments {unknown}; choose from {EXPERIMENTS}")


def build_context(model: nn.Module, loader: Iterable, loss_fn: Callable | None,
                  optimizer: torch.optim.Optimizer | None, val_loader: Iterable | None,
                  train_step: TrainStep | None, fmt: BatchFormat, samples: int,
                  batch: int) -> CheckContext:
    """Copies and samples for the checks (call inside :func:`preserved_rng`)."""
    try:
        pristine = copy.deepcopy(model)
    except Exception as exc:
        raise TypeError(f"nbviz.check works on a copy of the model, and copy.deepcopy failed: "
                        f"{exc}. Make the model's attributes copyable.") from exc
    data_x, data_y, first = sample_loader(loader, samples, fmt)
    val_x = val_y = None
    if val_loader is not None:
        val_x, val_y, _ = sample_loader(val_loader, samples, fmt)
    given = loss_fn is not None
    loss = copy.deepcopy(loss_fn) if isinstance(loss_fn, nn.Module) else loss_fn
    return CheckContext(model, pristine, loss if loss is not None else nn.CrossEntropyLoss(), given,
                        optimizer, train_step, data_x[:min(first, batch)],
                        data_y[:min(first, batch)], data_x, data_y, val_x, val_y, first,
                        model_device(model))


def _guarded(report: Report, check: str, title: str, fn: Callable[[], Any]) -> None:
    try:
        result = fn()
    except Exception as exc:  # a check that breaks must not hide the others
        report.add(Finding(check, title, "skipped",
                           f"the check could not run: {type(exc).__name__}: {exc}"))
        return
    for finding in result if isinstance(result, list) else [result]:
        report.add(finding)


def run_checks(ctx: CheckContext, experiments_: Sequence[str] = ("overfit",)) -> Report:
    """Every check on a prepared context; findings ordered by group."""
    report = Report(model_name=type(ctx.user_model).__name__)
    steps: list[tuple[str, str, Callable[[], Any]]] = [
        ("forward.shapes", "shapes through every layer", lambda: forward_checks.check_shapes(ctx)),
        ("forward.output", "one output row per sample", lambda: forward_checks.check_output(ctx)),
        ("forward.batch_independence", "samples do not mix across the batch",
         lambda: forward_checks.check_batch_independence(ctx)),
        ("loss.call", "the loss call", lambda: loss_checks.check_loss_call(ctx)),
        ("loss.input", "loss input", lambda: loss_checks.check_loss_input(ctx)),
        ("loss.regression_on_classes", "regression loss on classes",
         lambda: loss_checks.check_regression_on_classes(ctx)),
        ("loss.reduction", "loss reduction", lambda: loss_checks.check_reduction(ctx)),
        ("data.finite", "inputs are finite", lambda: data_checks.check_finite(ctx)),
        ("data.range", "value range", lambda: data_checks.check_range(ctx)),
        ("data.labels", "labels", lambda: data_checks.check_labels(ctx)),
        ("data.targets", "target format", lambda: data_checks.check_targets(ctx)),
        ("data.duplicates", "duplicates", lambda: data_checks.check_duplicates(ctx)),
        ("data.label_signal", "labels relate to inputs", lambda: data_checks.check_label_signal(ctx)),
        ("data.grid", "inputs and labels", lambda: data_checks.check_grid(ctx)),
        ("initialisation.first_loss", "first loss", lambda: init_checks.check_first_loss(ctx)),
        ("initialisation.output_scale", "output scale",
         lambda: init_checks.check_output_scale(ctx)),
        ("initialisation.units", "units at initialisation", lambda: init_checks.check_units(ctx)),
        ("backward.grads", "gradients", lambda: backward_checks.check_backward(ctx)),
        ("backward.frozen", "frozen parameters", lambda: backward_checks.check_frozen(ctx)),
        ("optimizer.coverage", "optimizer coverage",
         lambda: optimizer_checks.check_coverage(ctx)),
        ("optimizer.lr", "learning rate", lambda: optimizer_checks.check_lr(ctx)),
        ("optimizer.zero_grad", "zero_grad", lambda: optimizer_checks.check_zero_grad(ctx)),
    ]
    if "overfit" in experiments_:
        steps.append(("experiments.overfit", "overfit one batch",
                      lambda: experiments.overfit_one_batch(ctx)))
    if "lr_range" in experiments_:
        steps.append(("experiments.lr_range", "learning-rate range test",
                      lambda: experiments.lr_range_test(ctx)[0]))
    for check, title, fn in steps:
        _guarded(report, check, title, fn)
    order = {g: i for i, g in enumerate(GROUPS)}
    report.findings.sort(key=lambda f: order.get(f.group, len(order)))
    return report


def check(model: nn.Module, loader: Iterable, loss_fn: Callable | None = None,
          optimizer: torch.optim.Optimizer | None = None, val_loader: Iterable | None = None, *,
          train_step: TrainStep | None = None, experiments: Sequence[str] = ("overfit",),
          input_key: str = "input", target_key: str = "target", samples: int = 1024,
          batch: int = 64) -> Report:
    """Run the debugging checklist (data, initialisation, forward, backward, optimizer, loss).

    Everything runs on copies: the model, the optimizer and its state, and the RNG streams
    (torch, numpy, Python ``random``, the loaders' generators) are as they were afterwards.

    Args:
        model: the model to check.
        loader: the training loader, yielding (inputs, targets) or dicts.
        loss_fn: the loss (default nn.CrossEntropyLoss(), as TrainingSession).
        optimizer: the optimizer that will train ``model``, to check its settings.
        val_loader: the validation loader, to look for train/validation duplicates.
        train_step: your step ``fn(model, optimizer, inputs, targets)``; when given, checks
            zero_grad/backward/step order on a copy.
        experiments: ``"overfit"`` (one batch) and/or ``"lr_range"`` (range test).
        samples: how many training samples to draw for the data statistics.
        batch: at most this many samples of the first batch are used for the passes.

    Returns:
        a :class:`Report`; print it, or show it in a notebook.

    Raises:
        TypeError, ValueError: for arguments of the wrong kind (the message says which).

    Example:
        >>> report = nbviz.check(model, train_loader, nn.CrossEntropyLoss(), optimizer)
        >>> print(report)
    """
    check_model(model)
    _validate(loader, loss_fn, optimizer, val_loader, train_step, experiments)
    fmt = BatchFormat(input_key, target_key)
    started = time.perf_counter()
    with preserved_rng([loader, val_loader]):
        ctx = build_context(model, loader, loss_fn, optimizer, val_loader, train_step, fmt,
                            samples, batch)
        report = run_checks(ctx, experiments)
    report.seconds = time.perf_counter() - started
    return report
