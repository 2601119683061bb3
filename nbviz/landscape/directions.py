"""Directions in parameter space: filter-normalised random (Li et al. 2018), PCA of a
recorded trajectory, and the top Hessian eigenvectors (Hessian-vector products + Lanczos).

A direction is a flat float32 CPU tensor over the model's trainable parameters, in
``model.parameters()`` order (the layout of :func:`flat_parameters`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters that train (requires_grad), in model order.

    Raises:
        ValueError: the model has no trainable parameter (there is no landscape to show).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"{type(model).__name__} has no trainable parameters: there is no loss "
                         "landscape over its weights (unfreeze some with requires_grad_(True))")
    return params


def flat_parameters(model: nn.Module) -> torch.Tensor:
    """The trainable parameters as one flat float32 CPU tensor (a fresh copy)."""
    with torch.no_grad():
        return torch.cat([p.detach().reshape(-1).to("cpu", torch.float32)
                          for p in trainable_parameters(model)])


def filter_normalize(direction: torch.Tensor, model: nn.Module, *, include_1d: bool = False) -> torch.Tensor:
    """Scale each filter of ``direction`` to the norm of the matching filter of the weights.

    A filter is one slice along dim 0 of a parameter with 2+ dims (a conv output channel, a
    Linear row). Parameters of one dim (biases, BatchNorm) are zeroed, as Li et al. do, unless
    ``include_1d``: then each is scaled as a whole to that parameter's norm.
    """
    out = direction.detach().to(torch.float32).clone()
    offset = 0
    for p in trainable_parameters(model):
        n = p.numel()
        piece = out[offset:offset + n].view(p.shape) if p.dim() else out[offset:offset + n]
        w = p.detach().to("cpu", torch.float32).reshape(piece.shape)
        if p.dim() >= 2:
            d_norm = piece.reshape(p.shape[0], -1).norm(dim=1).clamp_min(1e-12)
            w_norm = w.reshape(p.shape[0], -1).norm(dim=1)
            piece.mul_((w_norm / d_norm).view(-1, *([1] * (p.dim() - 1))))
        elif include_1d:
            piece.mul_(w.norm() / piece.norm().clamp_min(1e-12))
        else:
            piece.zero_()
        offset += n
    return out


def random_directions(model: nn.Module, count: int = 2, seed: int = 0, *,
                      include_1d: bool = False) -> list[torch.Tensor]:
    """``count`` filter-normalised Gaussian directions, drawn from their own generator
    (the global RNG is not touched)."""
    size = sum(p.numel() for p in trainable_parameters(model))
    gen = torch.Generator().manual_seed(seed)
    return [filter_normalize(torch.randn(size, generator=gen), model, include_1d=include_1d)
            for _ in range(count)]


def pca_directions(points: np.ndarray | torch.Tensor, center: np.ndarray | torch.Tensor,
                   count: int = 2) -> tuple[list[torch.Tensor], np.ndarray]:
    """Top principal directions of ``points - center`` (Li et al.: snapshots minus the final
    weights), and the share of variance each explains.

    Raises:
        ValueError: fewer than ``count`` + 1 points, or all points equal to ``center``.
    """
    pts = torch.as_tensor(np.asarray(points, dtype=np.float32))
    c = torch.as_tensor(np.asarray(center, dtype=np.float32)).reshape(-1)
    if pts.dim() != 2 or pts.shape[1] != c.numel():
        raise ValueError(f"points must be (n, {c.numel()}), got {tuple(pts.shape)}")
    if pts.shape[0] < count + 1:
        raise ValueError(f"PCA directions need a recorded trajectory of at least {count + 1} points, "
                         f"got {pts.shape[0]}: train a few steps with the trajectory recorder attached, "
                         "or use random directions")
    diff = (pts - c).double()
    # the small Gram matrix (n x n) instead of the D x D covariance
    gram = diff @ diff.T
    vals, vecs = torch.linalg.eigh(gram)
    order = torch.argsort(vals, descending=True)
    vals, vecs = vals[order].clamp_min(0), vecs[:, order]
    if float(vals[0]) <= 0:
        raise ValueError("the recorded trajectory has not moved from the current weights: train first")
    dirs = []
    for i in range(count):
        if float(vals[i]) <= 1e-12 * float(vals[0]):
            raise ValueError(f"the trajectory spans fewer than {count} directions; use random directions")
        v = diff.T @ vecs[:, i]
        dirs.append((v / v.norm()).float())
    return dirs, (vals[:count] / vals.sum()).numpy()


def hvp_operator(model: nn.Module, loss_fn: LossFn, inputs: torch.Tensor,
                 targets: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function v -> H v for the loss of ``model`` (use a copy) on one batch, in eval mode."""
    params = trainable_parameters(model)
    model.eval()
    with torch.enable_grad():
        loss = loss_fn(model(inputs), targets)
        grads = torch.autograd.grad(loss, params, create_graph=True)
    flat_grad = torch.cat([g.reshape(-1) for g in grads])
    device = flat_grad.device

    def hvp(v: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            dot = (flat_grad * v.to(device, flat_grad.dtype)).sum()
            parts = torch.autograd.grad(dot, params, retain_graph=True, allow_unused=True)
        return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1)
                          for g, p in zip(parts, params, strict=True)]).detach().to("cpu", torch.float32)

    return hvp


def lanczos_top(hvp: Callable[[torch.Tensor], torch.Tensor], size: int, count: int = 2,
                iterations: int = 20, seed: int = 0,
                should_stop: Callable[[], bool] | None = None) -> tuple[np.ndarray, list[torch.Tensor]]:
    """Largest-magnitude eigenpairs of a symmetric operator by Lanczos with full
    reorthogonalisation (``iterations`` Hessian-vector products)."""
    gen = torch.Generator().manual_seed(seed)
    m = max(count + 1, min(iterations, size))
    q = torch.randn(size, generator=gen, dtype=torch.float64)
    q /= q.norm()
    basis: list[torch.Tensor] = []
    alphas: list[float] = []
    betas: list[float] = []
    for _ in range(m):
        if should_stop is not None and should_stop():
            raise InterruptedError("cancelled")
        basis.append(q)
        w = hvp(q.float()).double()
        alpha = float(w @ q)
        alphas.append(alpha)
        stack = torch.stack(basis)
        w = w - stack.T @ (stack @ w)  # full reorthogonalisation (twice is enough)
        w = w - stack.T @ (stack @ w)
        beta = float(w.norm())
        if beta < 1e-10 or len(basis) == size:
            break
        betas.append(beta)
        q = w / beta
    k = len(alphas)
    tri = np.diag(alphas) + np.diag(betas[:k - 1], 1) + np.diag(betas[:k - 1], -1)
    vals, vecs = np.linalg.eigh(tri)
    order = np.argsort(-np.abs(vals))[:count]
    stack = torch.stack(basis[:k])
    dirs = [(stack.T @ torch.from_numpy(vecs[:, i])).float() for i in order]
    return vals[order], [d / d.norm() for d in dirs]


def hessian_directions(model: nn.Module, loss_fn: LossFn, inputs: torch.Tensor, targets: torch.Tensor,
                       count: int = 2, iterations: int = 20, seed: int = 0,
                       should_stop: Callable[[], bool] | None = None
                       ) -> tuple[list[torch.Tensor], np.ndarray]:
    """Top ``count`` Hessian eigenvectors (by magnitude) of the loss on one batch, and their
    eigenvalues. Call on a copy of the model: it runs forward/backward passes in eval mode."""
    hvp = hvp_operator(model, loss_fn, inputs, targets)
    size = sum(p.numel() for p in trainable_parameters(model))
    vals, dirs = lanczos_top(hvp, size, count, iterations, seed, should_stop)
    return dirs, vals
