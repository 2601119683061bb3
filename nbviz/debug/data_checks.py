"""Data: non-finite inputs, value range, labels, target format, train/val duplicates, a grid."""

from __future__ import annotations

import hashlib
import math

import torch
from torch import nn

from ..probes.forward_explain import dims
from .context import CheckContext
from .pictures import bars_svg, image_grid_html
from .report import Finding


def _channel_stats(x: torch.Tensor) -> tuple[list[float], list[float]]:
    x = x.float()
    if x.dim() >= 3 and x.shape[1] <= 16:
        flat = x.transpose(0, 1).reshape(x.shape[1], -1)
    else:
        flat = x.reshape(1, -1)
    return flat.mean(1).tolist(), flat.std(1).tolist()


def check_finite(ctx: CheckContext) -> Finding:
    x = ctx.data_x
    title = "inputs are finite"
    if not x.is_floating_point():
        return Finding("data.finite", title, "pass", f"integer inputs ({x.dtype})")
    bad = ~torch.isfinite(x.reshape(len(x), -1)).all(1)
    if bad.any():
        idx = bad.nonzero().flatten().tolist()
        return Finding("data.finite", title, "fail",
                       f"{len(idx)} of {len(x)} sampled inputs hold NaN or inf (first: sample "
                       f"{idx[0]})", "data",
                       "find where they come from (division by zero, log of 0 in the dataset); "
                       "drop them, or clean with torch.nan_to_num(x) in the dataset",
                       [f"samples with NaN/inf: {idx[:10]}"])
    return Finding("data.finite", title, "pass", f"{len(x)} sampled inputs, no NaN or inf")


def check_range(ctx: CheckContext) -> Finding:
    x = ctx.data_x
    title = "value range and per-channel mean/std"
    if not x.is_floating_point():
        return Finding("data.range", title, "skipped", f"integer inputs ({x.dtype}), e.g. token ids")
    finite = x[torch.isfinite(x)]
    if finite.numel() == 0:
        return Finding("data.range", title, "skipped", "no finite input values")
    lo, hi = float(finite.min()), float(finite.max())
    means, stds = _channel_stats(torch.nan_to_num(x))
    evidence = [f"range [{lo:.3g}, {hi:.3g}]",
                "per-channel mean " + ", ".join(f"{m:.3g}" for m in means),
                "per-channel std " + ", ".join(f"{s:.3g}" for s in stds)]
    if max(abs(lo), abs(hi)) > 50:
        scale = "0..255 pixels" if lo >= 0 and hi <= 255 else "large raw values"
        return Finding("data.range", title, "warn",
                       f"inputs range from {lo:.3g} to {hi:.3g} ({scale}): unnormalised inputs "
                       "make the first layer saturate and training slow", "data",
                       "scale them: transforms.ToTensor() (divides by 255) then "
                       "transforms.Normalize(mean, std), or x = (x - mean) / std", evidence)
    if max(stds) > 2.5 or max(abs(m) for m in means) > 2.0:
        return Finding("data.range", title, "warn",
                       f"per-channel std up to {max(stds):.3g}, mean up to "
                       f"{max(abs(m) for m in means):.3g}: normalised twice, or with the wrong "
                       "mean/std?", "data",
                       "apply transforms.Normalize once, with the dataset's own mean and std",
                       evidence)
    if max(stds) < 1e-3:
        return Finding("data.range", title, "warn",
                       f"inputs are nearly constant (std {max(stds):.2g})", "data",
                       "check the dataset returns the images, not a constant tensor", evidence)
    return Finding("data.range", title, "pass",
                   f"range [{lo:.3g}, {hi:.3g}], std {min(stds):.3g}..{max(stds):.3g}",
                   evidence=evidence)


def class_indices(targets: torch.Tensor) -> torch.Tensor | None:
    """Targets as class indices (one-hot rows arg-maxed), or None if they are not classes."""
    if targets.dim() == 2 and targets.shape[1] > 1 and targets.is_floating_point():
        return targets.argmax(1)
    if targets.dim() == 2 and targets.shape[1] == 1:
        targets = targets[:, 0]
    if targets.dim() != 1:
        return None
    if targets.is_floating_point():
        if not torch.all(targets == targets.round()):
            return None
        return targets.long()
    return targets.long()


def check_labels(ctx: CheckContext) -> Finding:
    title = "label distribution and range"
    if not ctx.classification:
        return Finding("data.labels", title, "skipped",
                       f"the loss ({type(ctx.loss_fn).__name__}) does not take class labels")
    idx = class_indices(ctx.data_y)
    if idx is None:
        return Finding("data.labels", title, "skipped",
                       f"targets of shape {dims(tuple(ctx.data_y.shape))} are not class labels")
    lo, hi = int(idx.min()), int(idx.max())
    counts = torch.bincount(idx - min(lo, 0)).tolist()
    present = [(i + min(lo, 0), c) for i, c in enumerate(counts) if c]
    svg = bars_svg([str(k) for k, _ in present], [float(c) for _, c in present],
                   title="labels in the sample")
    evidence = ["counts " + ", ".join(f"{k}: {c}" for k, c in present[:30])]
    classes = ctx.num_classes
    if classes is not None and (lo < 0 or hi >= classes):
        off_by_one = lo == 1 and hi == classes
        fix = ("labels run 1..C: subtract 1 (y = y - 1)" if off_by_one else
               f"make the model output {hi + 1} classes (the last Linear's out_features), or "
               "map the labels to 0..C-1")
        return Finding("data.labels", title, "fail",
                       f"labels run from {lo} to {hi} but the model outputs {classes} classes "
                       f"(valid labels 0..{classes - 1})", "labels", fix, evidence, svg)
    if lo < 0:
        return Finding("data.labels", title, "fail", f"negative labels (min {lo})", "labels",
                       "map the labels to 0..C-1", evidence, svg)
    if len(present) == 1:
        return Finding("data.labels", title, "fail",
                       f"every sampled label is {present[0][0]} ({len(idx)} samples)", "labels",
                       "check the dataset's targets (a constant, or labels overwritten); "
                       "shuffle=True if the data is sorted by class", evidence, svg)
    first = class_indices(ctx.targets)
    if first is not None and len(first) >= 16 and int(torch.unique(first).numel()) == 1:
        return Finding("data.labels", title, "warn",
                       f"the first batch ({len(first)} samples) holds only class {int(first[0])} "
                       f"while the data has {len(present)}: the loader is not shuffled (sorted "
                       "by class)", "loader",
                       "shuffle the training data: DataLoader(dataset, batch_size=..., "
                       "shuffle=True)", evidence, svg)
    top = max(c for _, c in present) / len(idx)
    if top > 0.9 and len(idx) >= 50:
        return Finding("data.labels", title, "warn",
                       f"one class holds {top:.0%} of the sampled labels", "labels",
                       "shuffle the training loader (shuffle=True), or weight the loss "
                       "(nn.CrossEntropyLoss(weight=...)) if the data is truly imbalanced",
                       evidence, svg)
    return Finding("data.labels", title, "pass",
                   f"{len(present)} classes in {len(idx)} sampled labels, range {lo}..{hi}",
                   evidence=evidence, evidence_html=svg)


def check_targets(ctx: CheckContext) -> Finding:
    """One-hot vs index targets, and whether the loss takes that form."""
    y = ctx.targets
    title = "target format"
    shape = dims(tuple(y.shape))
    if isinstance(ctx.loss_fn, (nn.CrossEntropyLoss, nn.NLLLoss)):
        if y.dim() == 2 and y.shape[1] == 1:
            return Finding("data.targets", title, "fail",
                           f"targets have shape {shape}: class indices need shape N", "targets",
                           "squeeze them: y = y.squeeze(1) (or y.view(-1))")
        if y.dim() == 1 and y.is_floating_point():
            return Finding("data.targets", title, "fail",
                           f"class-index targets are {y.dtype}; {type(ctx.loss_fn).__name__} "
                           "needs integer (long) indices", "targets",
                           "convert them: y = y.long() (or torch.tensor(labels, dtype=torch.long))")
        if y.dim() == 2 and y.is_floating_point():
            if isinstance(ctx.loss_fn, nn.NLLLoss):
                return Finding("data.targets", title, "fail",
                               f"one-hot targets ({shape}) but NLLLoss takes class indices",
                               "targets", "pass y.argmax(1), or use nn.CrossEntropyLoss")
            return Finding("data.targets", title, "pass",
                           f"one-hot / probability targets {shape} (CrossEntropyLoss accepts them)")
        return Finding("data.targets", title, "pass", f"class indices {shape}, {y.dtype}")
    if isinstance(ctx.loss_fn, (nn.BCEWithLogitsLoss, nn.BCELoss)):
        if not y.is_floating_point():
            return Finding("data.targets", title, "fail",
                           f"{type(ctx.loss_fn).__name__} needs float targets, got {y.dtype}",
                           "targets", "convert them: y = y.float()")
        if float(y.min()) < 0 or float(y.max()) > 1:
            return Finding("data.targets", title, "fail",
                           f"binary targets must lie in [0, 1]; got {float(y.min()):.3g}.."
                           f"{float(y.max()):.3g}", "targets",
                           "use 0/1 targets, or nn.CrossEntropyLoss for several classes")
    return Finding("data.targets", title, "pass", f"targets {shape}, {y.dtype}")


def _row_hashes(x: torch.Tensor) -> list[str]:
    rows = x.detach().contiguous().reshape(len(x), -1).cpu().numpy()
    return [hashlib.blake2b(r.tobytes(), digest_size=12).hexdigest() for r in rows]


def check_duplicates(ctx: CheckContext) -> Finding:
    title = "no duplicates between train and validation"
    if ctx.val_x is None:
        return Finding("data.duplicates", title, "skipped", "no val_loader given")
    if ctx.val_x.shape[1:] != ctx.data_x.shape[1:]:
        return Finding("data.duplicates", title, "skipped", "train and validation shapes differ")
    train = set(_row_hashes(ctx.data_x))
    val = _row_hashes(ctx.val_x)
    dup = sum(h in train for h in val)
    share = dup / max(len(val), 1)
    evidence = [f"{dup} of {len(val)} sampled validation inputs also among {len(train)} sampled "
                "training inputs"]
    if dup >= 3 and share > 0.02:
        return Finding("data.duplicates", title, "fail" if share > 0.2 else "warn",
                       f"{share:.0%} of sampled validation inputs also appear in training: the "
                       "validation score overstates how well the model generalises", "data",
                       "split once, without overlap: torch.utils.data.random_split(dataset, "
                       "[n_train, n_val]), and deduplicate the data first", evidence)
    return Finding("data.duplicates", title, "pass", evidence[0], evidence=evidence)


def check_grid(ctx: CheckContext) -> Finding:
    x, y = ctx.inputs, ctx.targets
    title = "a look at the inputs and their labels"
    if x.dim() == 4 and x.shape[-1] in (1, 3) and x.shape[1] > 4 and x.shape[2] > 4:
        return Finding("data.grid", title, "warn",
                       f"inputs are {dims(tuple(x.shape))}: channels last (N×H×W×C), while "
                       "PyTorch layers expect N×C×H×W", "data",
                       "permute once: x = x.permute(0, 3, 1, 2) (or transforms.ToTensor() on "
                       "H×W×C arrays)")
    labels_idx = class_indices(y)
    names = [str(int(v)) for v in labels_idx[:16]] if labels_idx is not None else []
    grid = image_grid_html(x, names)
    if not grid:
        return Finding("data.grid", title, "pass",
                       f"inputs {dims(tuple(x.shape))} are not images: no picture (not applicable)")
    return Finding("data.grid", title, "pass",
                   "16 inputs with their labels in the evidence: upside down? labels matching?",
                   evidence_html=grid)


def check_label_signal(ctx: CheckContext, limit: int = 1000) -> Finding:
    """Leave-one-out 1-nearest-neighbour accuracy on raw inputs vs chance: are labels related?"""
    title = "labels relate to the inputs"
    idx = class_indices(ctx.data_y) if ctx.classification else None
    x = ctx.data_x
    if idx is None or not x.is_floating_point() or len(x) < 100:
        return Finding("data.label_signal", title, "skipped",
                       "needs class labels, float inputs and at least 100 samples")
    n = min(limit, len(x))
    flat = torch.nan_to_num(x[:n].reshape(n, -1).float())
    flat = (flat - flat.mean(0)) / (flat.std(0) + 1e-6)
    labels = idx[:n]
    dist = torch.cdist(flat, flat)
    dist.fill_diagonal_(math.inf)
    acc = float((labels[dist.argmin(1)] == labels).float().mean())
    freq = torch.bincount(labels).float() / n
    chance = float((freq ** 2).sum())  # agreement of two random draws
    sigma = math.sqrt(chance * (1 - chance) / n)
    evidence = [f"1-NN accuracy {acc:.1%} vs {chance:.1%} by chance ({n} samples)"]
    if acc < chance + 2.5 * sigma:  # consistent with chance
        return Finding("data.label_signal", title, "warn",
                       f"nearest neighbours agree on the label {acc:.0%} of the time, as by "
                       f"chance ({chance:.0%}): the labels may not belong to their inputs", "data",
                       "check that inputs and labels are shuffled together (one index for both, "
                       "e.g. TensorDataset(x, y) with shuffle=True), not separately", evidence)
    return Finding("data.label_signal", title, "pass", evidence[0], evidence=evidence)
