"""Loss and accuracy of a model copy at given flat weights on a probe set (eval mode, no grad)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .directions import trainable_parameters

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
MIN_PROBE, MAX_PROBE = 16, 65536


def check_probe(inputs: torch.Tensor, targets: torch.Tensor) -> None:
    if len(inputs) != len(targets):
        raise ValueError(f"probe inputs and targets differ in length: {len(inputs)} vs {len(targets)}")
    if not MIN_PROBE <= len(inputs) <= MAX_PROBE:
        raise ValueError(f"probe size must be {MIN_PROBE}..{MAX_PROBE} samples, got {len(inputs)}")


def check_probe_size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_PROBE <= value <= MAX_PROBE:
        raise ValueError(f"probe_size must be a whole number of samples in {MIN_PROBE}..{MAX_PROBE}, "
                         f"got {value!r}")
    return value


def model_copy(model: nn.Module) -> nn.Module:
    """A deep copy in eval mode (BatchNorm uses its running statistics, dropout is off).
    Take it at a batch boundary; the original is not touched."""
    trainable_parameters(model)  # refuse a model with nothing to move
    clone = copy.deepcopy(model)
    clone.eval()
    return clone


def logits_of(output: Any) -> torch.Tensor:
    """The tensor of a model's output: itself, ``logits``/``out`` of a dict, or a tuple's first."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, dict):
        for key in ("logits", "out", "output"):
            if isinstance(output.get(key), torch.Tensor):
                return output[key]
        raise ValueError(f"the model returns a dict without 'logits' or 'out' (keys: {list(output)[:6]})")
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise ValueError(f"cannot read a tensor from the model's output of type {type(output).__name__}")


def set_flat(model: nn.Module, vector: torch.Tensor) -> None:
    """Write a flat vector into the trainable parameters of ``model`` (a copy)."""
    params = trainable_parameters(model)
    total = sum(p.numel() for p in params)
    if vector.numel() != total:
        raise ValueError(f"the weight vector has {vector.numel()} values, the model {total}")
    offset = 0
    with torch.no_grad():
        for p in params:
            n = p.numel()
            p.copy_(vector[offset:offset + n].view(p.shape).to(p.device, p.dtype))
            offset += n


def evaluate_at(model: nn.Module, vector: torch.Tensor | None, inputs: torch.Tensor,
                targets: torch.Tensor, loss_fn: LossFn, batch_size: int = 512) -> tuple[float, float]:
    """(mean loss, accuracy) of ``model`` (a copy, in eval mode) with its trainable parameters
    set to ``vector`` (None: as they are). Accuracy is nan when outputs are not class scores."""
    if vector is not None:
        set_flat(model, vector)
    device = next(iter(trainable_parameters(model))).device
    total_loss, correct, count, classify = 0.0, 0, 0, True
    with torch.no_grad():
        for i in range(0, len(inputs), batch_size):
            x = inputs[i:i + batch_size].to(device)
            y = targets[i:i + batch_size].to(device)
            out = logits_of(model(x))
            total_loss += float(loss_fn(out, y)) * len(x)
            if classify and out.dim() == 2 and y.dim() == 1 and not y.is_floating_point():
                correct += int((out.argmax(1) == y).sum())
            else:
                classify = False
            count += len(x)
    return total_loss / count, (correct / count if classify else float("nan"))
