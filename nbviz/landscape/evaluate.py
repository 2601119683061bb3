"""Loss and accuracy of a model copy at given weights on a probe set (eval mode, no grad).

:class:`ProbeEvaluator` is the fast path used by grids and lines. Measured on the reference
CNN (SmallCNN, 1,024 digits, 2 cores; bench/landscape.py), almost all of a point's time is
the forward pass, not setting weights (0.1 ms), and most of the forward pass was memory-bound
element-wise work (BatchNorm, ReLU, max-pool) on activations too big for the caches. So it:

- converts a convolutional copy to ``channels_last`` (oneDNN's native layout: no reorders);
- evaluates the probe in chunks of 64 samples, whose activations stay in the CPU caches;
- writes ``origin + a*d1 + b*d2`` into the copy's parameters in place with ``torch._foreach``
  ops from pieces laid out like the parameters (no flat vector, no allocation per point);
- swaps faster exact equivalents into the copy (fusion.py): BatchNorm folded into the
  convolution before it, max-pooling without the int64 indices the CPU kernel always writes,
  and a first convolution on the probe as a product with patches unfolded once;
- runs under ``torch.inference_mode``. Batching
grid points through ``torch.func.functional_call`` + ``vmap`` was not taken: with 1,024
samples each op is already large, so per-call overhead is < 1% of a point; vmap would only
multiply activation memory (and turn convolutions into slower grouped ones).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .directions import trainable_parameters
from .fusion import cache_probe_columns, speed_up

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
MIN_PROBE, MAX_PROBE = 16, 65536
CONV_CHUNK, DENSE_CHUNK = 64, 1024


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


def _is_convolutional(model: nn.Module, inputs: torch.Tensor) -> bool:
    return inputs.dim() == 4 and any(isinstance(m, nn.Conv2d) for m in model.modules())


class ProbeEvaluator:
    """Loss and accuracy of ``model`` (a copy the evaluator owns: it is put in eval mode,
    channels-last, faster equivalent layers are swapped in and its weights are written) on a
    fixed probe set, at weights given as flat vectors or as plane points.

    Args:
        model: a copy of the model (see :func:`model_copy`).
        inputs, targets: the probe set (CPU tensors; moved to the model's device once).
        loss_fn: a mean-reduced loss, e.g. ``nn.functional.cross_entropy``.
        chunk: samples per forward pass (default: 64 for convolutional image models, else 1,024).
    """

    def __init__(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, loss_fn: LossFn,
                 chunk: int | None = None) -> None:
        check_probe(inputs, targets)
        self.params: list[torch.Tensor] = list(trainable_parameters(model))
        self.size = sum(p.numel() for p in self.params)
        model.eval()
        device = self.params[0].device
        conv = _is_convolutional(model, inputs)
        if conv:
            model.to(memory_format=torch.channels_last)
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        self.folded = speed_up(model)
        # small chunks keep a CPU's activations in cache; a GPU wants big batches
        self.chunk = chunk or (CONV_CHUNK if conv and device.type == "cpu" else DENSE_CHUNK)
        self.model, self.loss_fn, self.count = model, loss_fn, len(inputs)
        self.batches = [(inputs[i:i + self.chunk].to(device), targets[i:i + self.chunk].to(device))
                        for i in range(0, len(inputs), self.chunk)]
        self.columns = cache_probe_columns(model, [x for x, _ in self.batches]) if conv else []
        self._plane: tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]] | None = None

    def pieces(self, vector: torch.Tensor) -> list[torch.Tensor]:
        """``vector`` cut into tensors laid out like the parameters (device, dtype, strides)."""
        if vector.numel() != self.size:
            raise ValueError(f"the weight vector has {vector.numel()} values, the model {self.size}")
        out, offset = [], 0
        for p in self.params:
            piece = torch.empty_like(p, memory_format=torch.preserve_format, requires_grad=False)
            piece.copy_(vector[offset:offset + p.numel()].view(p.shape))
            out.append(piece)
            offset += p.numel()
        return out

    def set_plane(self, origin: torch.Tensor, d1: torch.Tensor, d2: torch.Tensor) -> None:
        """Prepare :meth:`at` for points ``origin + a*d1 + b*d2``."""
        self._plane = (self.pieces(origin), self.pieces(d1), self.pieces(d2))

    def move_to(self, a: float, b: float) -> None:
        """Write ``origin + a*d1 + b*d2`` into the parameters, in place."""
        if self._plane is None:
            raise RuntimeError("call set_plane() first")
        origin, d1, d2 = self._plane
        with torch.no_grad():
            params = self.params
            torch._foreach_copy_(params, origin)
            if a:
                torch._foreach_add_(params, d1, alpha=a)
            if b:
                torch._foreach_add_(params, d2, alpha=b)

    def at(self, a: float, b: float) -> tuple[float, float]:
        """(loss, accuracy) at ``origin + a*d1 + b*d2``."""
        self.move_to(a, b)
        return self.evaluate()

    def at_vector(self, vector: torch.Tensor) -> tuple[float, float]:
        """(loss, accuracy) with the parameters set to the flat ``vector``."""
        with torch.no_grad():
            torch._foreach_copy_(self.params, self.pieces(vector))
        return self.evaluate()

    def evaluate(self) -> tuple[float, float]:
        """(mean loss, accuracy) at the current parameters; accuracy is nan when the outputs
        are not class scores."""
        total_loss, correct, classify = 0.0, 0, True
        for fold in self.folded:
            fold.update()
        with torch.inference_mode():
            for x, y in self.batches:
                out = logits_of(self.model(x))
                total_loss += float(self.loss_fn(out, y)) * len(x)
                if classify and out.dim() == 2 and y.dim() == 1 and not y.is_floating_point():
                    correct += int((out.argmax(1) == y).sum())
                else:
                    classify = False
        return total_loss / self.count, (correct / self.count if classify else float("nan"))


def evaluate_at(model: nn.Module, vector: torch.Tensor | None, inputs: torch.Tensor,
                targets: torch.Tensor, loss_fn: LossFn, batch_size: int | None = None) -> tuple[float, float]:
    """(mean loss, accuracy) of ``model`` (a copy: see :class:`ProbeEvaluator` for what is done
    to it) with its trainable parameters set to ``vector`` (None: as they are). Accuracy is
    nan when outputs are not class scores."""
    evaluator = ProbeEvaluator(model, inputs, targets, loss_fn, chunk=batch_size)
    return evaluator.evaluate() if vector is None else evaluator.at_vector(vector)
