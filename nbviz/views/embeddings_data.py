"""Data helpers of the embedding explorer: probe-set size, layer choices, colours, thumbnails."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from ..embed import FeatureError, default_layer
from ..embed.memory import require_memory
from ..widgets.images import image_tiles

FEATURE_BYTES_GUESS = 4 * 1024  # float32 features of up to 1024 dims per sample


def check_probe_memory(n: int, sample_shape: tuple[int, ...], element_size: int = 4,
                       available: int | None = None) -> int:
    """Bytes a probe set of ``n`` samples needs (inputs, thumbnails, features, layouts).

    Checked before the set is drawn, with the embedding package's one memory check.

    Raises:
        ValueError: more than half the memory available; the message gives the size needed.
    """
    numel = math.prod(sample_shape) if sample_shape else 1
    need = n * (numel * element_size + numel + FEATURE_BYTES_GUESS + 64)
    return require_memory(need, f"a probe set of {n:,} samples of shape {tuple(sample_shape)} "
                          "(inputs, thumbnails, features)", "pass a smaller n_samples",
                          available=available)


def layer_options(model: nn.Module) -> list[tuple[str, str]]:
    """(label, value) choices: the last Linear's input first, then every submodule's output."""
    options: list[tuple[str, str]] = []
    try:
        linear = default_layer(model)
        options.append((f"input of {linear} (Linear)", f"{linear}:input"))
    except FeatureError:  # no Linear layer: every module's output is still offered
        pass
    for name, module in model.named_modules():
        if name:
            options.append((f"{name} ({type(module).__name__})", name))
    return options


def split_layer(value: str) -> tuple[str, str]:
    """A layer choice as (module name, "input" | "output"): ``"fc2:input"`` -> ("fc2", "input")."""
    if value.endswith(":input"):
        return value[: -len(":input")], "input"
    return value, "output"


def point_colors(color_by: str, labels: np.ndarray, pred: tuple[np.ndarray, ...] | None,
                 names: list[str]) -> tuple[dict[str, Any], str]:
    """Keyword arguments for ScatterWidget.set_colors, and a note when falling back."""
    known = labels >= 0
    if color_by in ("prediction", "correct", "loss") and pred is None:
        note = f"colour by {color_by} needs the model's class scores (a (N, classes) output); showing labels"
        return point_colors("label", labels, None, names)[0], note
    if color_by == "label":
        if not known.any():
            return {"values": np.zeros(len(labels)), "title": "no labels"}, "the targets are not class ids"
        return {"categories": np.where(known, labels, 0) % 256, "names": names[:256], "title": "true label"}, ""
    predictions, _, losses = pred  # type: ignore[misc]
    if color_by == "prediction":
        return {"categories": predictions % 256, "names": names[:256], "title": "predicted label"}, ""
    if color_by == "correct":
        return {"categories": (predictions == labels).astype(np.uint8), "names": ["wrong", "correct"],
                "palette": ["#d62728", "#2ca02c"], "title": "prediction"}, ""
    return {"values": np.nan_to_num(losses, nan=0.0), "title": "loss"}, ""


def thumbnails_of(inputs: torch.Tensor) -> np.ndarray | None:
    """uint8 images of input samples, scaled over the set, or None if they are not images."""
    return image_tiles(inputs)
