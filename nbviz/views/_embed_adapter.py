"""Temporary bridge to nbviz.embed while it is being written (features and projections).

The explorer imports only the four names below. Once nbviz.embed provides features
extraction and its fast t-SNE, these delegate there and this module shrinks to imports.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from ..probes.guard import probe_mode

Progress = Callable[[int, int, np.ndarray], None]


class FeatureError(ValueError):
    """The chosen layer cannot give one feature vector per sample (the message says why)."""


class Cancelled(RuntimeError):
    """A projection was cancelled by the user."""


def last_linear(model: nn.Module) -> str | None:
    """Dotted name of the model's last nn.Linear (registration order), or None."""
    name = None
    for module_name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            name = module_name
    return name


def _as_vectors(output: torch.Tensor, where: str) -> torch.Tensor:
    if not isinstance(output, torch.Tensor) or output.dim() < 2 or not output.is_floating_point():
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise FeatureError(f"{where} gives {shape}, not a batch of vectors (N, D) or maps (N, C, ...); "
                           "pick another layer")
    if output.dim() > 2:  # maps: average over the spatial axes
        output = output.flatten(2).mean(2)
    return output.detach().float().cpu()


def extract(session: Any, layer: str, inputs: torch.Tensor, batch_size: int = 256,
            timeout: float = 60.0) -> tuple[np.ndarray, np.ndarray | None]:
    """Features of ``inputs`` at ``layer`` ("name" = output, "name:input" = input) and the logits.

    Every batch runs at a training batch boundary under probe_mode, hooks removed after.
    """
    model = session.model
    name, _, side = layer.partition(":")
    modules = dict(model.named_modules())
    if name not in modules:
        raise FeatureError(f"no layer named {name!r}; choose one of the model's named modules")
    module = modules[name]
    feats: list[torch.Tensor] = []
    logits: list[torch.Tensor] = []
    where = f"the {'input' if side == 'input' else 'output'} of {name!r}"

    def run(batch: torch.Tensor) -> None:
        captured: list[torch.Tensor] = []
        if side == "input":
            handle = module.register_forward_pre_hook(lambda _m, args: captured.append(args[0]))
        else:
            handle = module.register_forward_hook(lambda _m, _a, out: captured.append(out))
        try:
            with probe_mode(model):
                device = next(iter(model.parameters()), torch.empty(0)).device
                out = model(batch.to(device))
        finally:
            handle.remove()
        if not captured:
            raise FeatureError(f"{name!r} did not run in the forward pass")
        feats.append(_as_vectors(captured[0], where))
        if isinstance(out, torch.Tensor) and out.dim() == 2:
            logits.append(out.detach().float().cpu())

    for start in range(0, len(inputs), batch_size):
        session.run_at_batch_boundary(lambda b=inputs[start:start + batch_size]: run(b)).result(timeout)
    X = torch.cat(feats).numpy()
    L = torch.cat(logits).numpy() if len(logits) == len(feats) else None
    return X, L


def project(X: np.ndarray, method: str, init: np.ndarray | None = None,
            callback: Progress | None = None, cancel: threading.Event | None = None) -> np.ndarray:
    """2-D layout of X by "pca", "tsne" or "umap"; t-SNE reports progress through callback."""
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or len(X) < 3:
        raise ValueError(f"need at least 3 feature vectors (n, d), got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("features contain NaN or infinite values (has training diverged?)")
    if method == "pca":
        Xc = X - X.mean(0)
        _, _, vt = np.linalg.svd(Xc[:: max(1, len(Xc) // 5000)], full_matrices=False)
        Y = Xc @ vt[:2].T
        return np.pad(Y, ((0, 0), (0, 2 - Y.shape[1])))
    if method == "umap":
        import umap  # optional extra

        return umap.UMAP(init=init if init is not None else "spectral").fit_transform(X)
    if method != "tsne":
        raise ValueError(f"unknown method {method!r}; use 'pca', 'tsne' or 'umap'")
    from openTSNE import TSNE

    total = 500 if init is None else 250

    def cb(iteration: int, _error: float, embedding: Any) -> bool:
        if callback is not None:
            callback(iteration, total, np.asarray(embedding, dtype=np.float32))
        return bool(cancel is not None and cancel.is_set())

    if init is not None:
        init = np.asarray(init, dtype=np.float32)
        init = (init - init.mean(0)) / (init[:, 0].std() + 1e-12) * 1e-4  # openTSNE's scale
    tsne = TSNE(n_jobs=1, callbacks=cb, callbacks_every_iters=10, random_state=0,
                initialization=init if init is not None else "pca",
                early_exaggeration_iter=0 if init is not None else 250, n_iter=total - (0 if init is not None else 250))
    Y = np.asarray(tsne.fit(X), dtype=np.float32)
    if cancel is not None and cancel.is_set():
        raise Cancelled("t-SNE cancelled")
    return Y
