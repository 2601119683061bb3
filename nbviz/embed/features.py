"""Features of any layer for a probe set, computed without touching training.

Every forward pass runs under :func:`nbviz.probes.probe_mode` (eval mode restored after, no
grad, RNG forked) and, for a session, through ``session.run_at_batch_boundary`` one batch at
a time, so it never races a training step and training moves on between batches. The hook
lives only for the duration of one batch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..probes import model_device, probe_mode
from .errors import ProjectionCancelled
from .memory import available_memory, require_memory

MAX_SAMPLES = 100_000


class FeatureError(ValueError):
    """Features cannot be computed as asked (the message says why and what to do)."""


@dataclass
class Features:
    """Per-sample features of one layer, with what the model made of each sample.

    Attributes:
        values: (n, d) float32 features.
        layer: the layer's name in ``model.named_modules()`` ("" for the model itself).
        side: "input" or "output" of that layer.
        reduction: how maps were turned into vectors: None (already vectors), "avg"
            (global average over the spatial dimensions) or "flatten".
        targets: (n,) labels when the data has them, else None.
        predictions, confidence, loss: (n,) arg-max class, its softmax probability and the
            cross-entropy per sample, when the model outputs class scores (n, classes) and
            the targets are class indices; else None.
    """

    values: np.ndarray
    layer: str
    side: str
    reduction: str | None
    targets: np.ndarray | None = None
    predictions: np.ndarray | None = None
    confidence: np.ndarray | None = None
    loss: np.ndarray | None = None


def default_layer(model: nn.Module) -> str:
    """Name of the last ``nn.Linear`` in ``model`` (its input is the usual embedding)."""
    last = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last = name
    if last is None:
        raise FeatureError(f"{type(model).__name__} has no nn.Linear layer to take features "
                           "from by default; pass layer='<name>' (see model.named_modules())")
    return last


def _find_layer(model: nn.Module, layer: str | nn.Module | None) -> tuple[str, nn.Module]:
    if layer is None:
        layer = default_layer(model)
    if isinstance(layer, nn.Module):
        for name, module in model.named_modules():
            if module is layer:
                return name, module
        raise FeatureError(f"the module {type(layer).__name__} given as layer is not part of "
                           "this model")
    modules = dict(model.named_modules())
    if not isinstance(layer, str) or layer not in modules:
        names = [n for n in modules if n][:12]
        raise FeatureError(f"no layer named {layer!r} in {type(model).__name__}; "
                           f"layers include {names}")
    return layer, modules[layer]


def _to_vectors(value: Any, batch: int, where: str, pool: str) -> tuple[torch.Tensor, str | None]:
    """A captured layer value as (batch, d) float32, or a FeatureError saying what it was."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if not isinstance(value, torch.Tensor):
        raise FeatureError(f"{where} is a {type(value).__name__}, not a tensor; pick a layer "
                           "whose output is a batch of vectors (n, d) or maps (n, c, ...)")
    if value.dim() < 2 or value.shape[0] != batch:
        raise FeatureError(f"{where} has shape {tuple(value.shape)} for a batch of {batch}; "
                           "features need a batch of vectors (n, d) or maps (n, c, ...)")
    if not (value.is_floating_point() or value.is_complex()):
        raise FeatureError(f"{where} holds {value.dtype} values, not features; pick a layer "
                           "with floating-point activations")
    if value.dim() == 2:
        return value.detach().float(), None
    if pool == "avg":  # (n, c, *spatial) -> (n, c)
        return value.detach().float().flatten(2).mean(2), "avg"
    return value.detach().float().flatten(1), "flatten"


def check_memory(n: int, d: int, what: str = "features") -> None:
    """Refuse (FeatureError) when n x d float32 would not fit comfortably in memory."""
    require_memory(n * d * 4, f"{what} for {n:,} samples x {d:,} dims",
                   "use fewer samples, pool='avg', or a layer with fewer dimensions",
                   available=available_memory(), error=FeatureError)


def _data(source: Any, inputs: Any, targets: Any, n: int) -> tuple[torch.Tensor, Any]:
    if inputs is None:
        if not hasattr(source, "probe_batch"):
            raise FeatureError("pass inputs= (a tensor of samples) when giving a bare model")
        # probe_batch seeds and restores the global RNG: drawing it from another thread while
        # a step runs would rewind the training thread's random numbers, so draw it at a
        # batch boundary too
        return source.run_at_batch_boundary(lambda: source.probe_batch(n)).result()
    if not isinstance(inputs, torch.Tensor):
        raise FeatureError(f"inputs must be a torch.Tensor batch, got {type(inputs).__name__}")
    if targets is not None and len(targets) != len(inputs):
        raise FeatureError(f"targets has {len(targets)} entries for {len(inputs)} inputs")
    return inputs[:n], None if targets is None else targets[:n]


def extract_features(source: Any, inputs: torch.Tensor | None = None,
                     targets: torch.Tensor | None = None, layer: str | nn.Module | None = None,
                     *, side: str = "input", pool: str = "avg", n: int = 10_000,
                     batch_size: int = 256,
                     progress: Callable[[int, int], Any] | None = None,
                     cancel: threading.Event | None = None) -> Features:
    """Features of ``layer`` for up to ``n`` samples.

    Args:
        source: a training session (forward passes go through its batch boundary) or a bare
            ``nn.Module``.
        inputs, targets: the samples; by default the session's fixed probe set
            (``session.probe_batch(n)``).
        layer: a name from ``model.named_modules()`` or the module itself; default the last
            ``nn.Linear``.
        side: "input" (what the layer receives; the default, so the last Linear gives the
            penultimate representation) or "output".
        pool: for maps (n, c, ...): "avg" averages over the spatial dimensions to (n, c);
            "flatten" keeps every position, (n, c*h*w).
        n: at most this many samples (<= 100,000).
        batch_size: samples per forward pass.
        progress: called as ``progress(done, total)`` after each batch.
        cancel: checked between batches; raises :class:`ProjectionCancelled` once set.

    Raises:
        FeatureError: unknown layer, an output that is not vectors or maps, too many samples
            for the memory available (the message gives the size needed), bad arguments.
    """
    model = getattr(source, "model", source)
    if not isinstance(model, nn.Module):
        raise FeatureError(f"source must be a session or an nn.Module, got {type(source).__name__}")
    if side not in ("input", "output"):
        raise FeatureError(f"side must be 'input' or 'output', got {side!r}")
    if pool not in ("avg", "flatten"):
        raise FeatureError(f"pool must be 'avg' or 'flatten', got {pool!r}")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_SAMPLES:
        raise FeatureError(f"n must be a whole number from 1 to {MAX_SAMPLES:,}, got {n!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise FeatureError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
    name, module = _find_layer(model, layer)
    x, y = _data(source, inputs, targets, n)
    total = len(x)
    if total == 0:
        raise FeatureError("there are no samples to compute features for")
    where = f"the {side} of layer {name or '<model>'!r} ({type(module).__name__})"
    run = getattr(source, "run_at_batch_boundary", None)
    values: np.ndarray | None = None
    outputs: list[torch.Tensor] = []
    reduction: str | None = None
    for start in range(0, total, batch_size):
        if cancel is not None and cancel.is_set():
            raise ProjectionCancelled("feature extraction was cancelled")
        batch = x[start:start + batch_size]

        def forward(batch: torch.Tensor = batch) -> tuple[tuple[torch.Tensor, str | None], Any]:
            return _forward(model, module, batch, side, pool, where)

        result = run(forward).result() if run is not None else forward()
        (vec, reduction), out = result
        if values is None:  # first batch: now the size is known, check it fits
            check_memory(total, vec.shape[1])
            values = np.empty((total, vec.shape[1]), dtype=np.float32)
        values[start:start + len(vec)] = vec.cpu().numpy()
        if isinstance(out, torch.Tensor) and out.dim() == 2 and out.shape[0] == len(vec):
            outputs.append(out.detach().float().cpu())
        if progress is not None:
            progress(min(start + batch_size, total), total)
    assert values is not None
    feats = Features(values, name, side, reduction)
    _add_predictions(feats, y, outputs, total)
    return feats


def _copied(value: Any) -> Any:
    """``value`` with every tensor in it copied (tuples, lists and dicts followed)."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, (tuple, list)):
        return type(value)(_copied(v) for v in value)
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    return value


def _forward(model: nn.Module, module: nn.Module, batch: torch.Tensor, side: str, pool: str,
             where: str) -> tuple[tuple[torch.Tensor, str | None], Any]:
    captured: list[Any] = []  # copies: a later in-place op (ReLU(inplace=True)) must not change them
    if side == "input":
        handle = module.register_forward_pre_hook(lambda m, args: captured.append(_copied(args)))
    else:
        handle = module.register_forward_hook(lambda m, args, out: captured.append(_copied(out)))
    try:
        with probe_mode(model):
            out = model(batch.to(model_device(model)))
    finally:
        handle.remove()
    if not captured:
        raise FeatureError(f"layer {where} was not called in the forward pass; pick a layer "
                           "the model uses")
    return _to_vectors(captured[0], len(batch), where, pool), out


def _add_predictions(feats: Features, y: Any, outputs: list[torch.Tensor], total: int) -> None:
    if isinstance(y, torch.Tensor) and y.dim() == 1:
        feats.targets = y.cpu().numpy()
    logits = torch.cat(outputs) if outputs and sum(len(o) for o in outputs) == total else None
    if logits is None or logits.shape[1] < 2:
        return
    probs = torch.softmax(logits, 1)
    conf, pred = probs.max(1)
    feats.predictions, feats.confidence = pred.numpy(), conf.numpy()
    if isinstance(y, torch.Tensor) and y.dim() == 1 and not y.is_floating_point():
        labels = y.long()
        if len(labels) and 0 <= int(labels.min()) and int(labels.max()) < logits.shape[1]:
            feats.loss = torch.nn.functional.cross_entropy(logits, labels,
                                                           reduction="none").numpy()
