"""An augmentation pipeline: which ops are on with which parameters, as one immutable value.

A :class:`PipelineSpec` is checked against the images it will see (:class:`ImageInfo`) when
it is made, so a spec that exists is one that makes sense; changing it gives a new spec, and
the old one stays in force when the change is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import torch
from torchvision.transforms import v2

from .ops import OPS, AugmentationError, ImageInfo, get_op


def image_info(sample: Any) -> ImageInfo:
    """ImageInfo of one image tensor ``(C, H, W)``.

    Raises:
        AugmentationError: when ``sample`` is not a float image tensor.
    """
    if not isinstance(sample, torch.Tensor):
        raise AugmentationError(
            f"augmentation applies to image tensors (C x H x W); the dataset's inputs are "
            f"{type(sample).__name__}")
    if sample.dim() != 3 or sample.shape[0] not in (1, 3) or min(sample.shape[1:]) < 4:
        raise AugmentationError(
            f"augmentation applies to image tensors (C x H x W with 1 or 3 channels); the "
            f"dataset's inputs have shape {tuple(sample.shape)}")
    if not sample.is_floating_point():
        raise AugmentationError(
            f"augmentation applies to float image tensors; the dataset's inputs are {sample.dtype}. "
            "Convert them with v2.ToDtype(torch.float32, scale=True) in the dataset")
    lo, hi = float(sample.min()), float(sample.max())
    return ImageInfo(int(sample.shape[0]), int(sample.shape[1]), int(sample.shape[2]),
                     unit_range=lo >= 0.0 and hi <= 1.0)


@dataclass(frozen=True)
class PipelineSpec:
    """Enabled ops and every op's parameters (kept while off, so a toggle restores them)."""

    info: ImageInfo
    enabled: frozenset[str]
    params: Mapping[str, Mapping[str, Any]]

    @classmethod
    def default(cls, info: ImageInfo) -> PipelineSpec:
        """Every op off, with its default parameters for these images."""
        params = {op.name: op.check({}, info) for op in OPS}
        return cls(info, frozenset(), MappingProxyType(params))

    def with_changes(self, name: str, enabled: bool | None = None, **values: Any) -> PipelineSpec:
        """A new spec with op ``name`` switched and/or re-parametrised.

        Raises:
            AugmentationError: naming what is wrong; ``self`` is unchanged.
        """
        op = get_op(name)
        if enabled is not None and not isinstance(enabled, bool):
            raise AugmentationError(f"{name}: enabled must be True or False, got {enabled!r}")
        merged = {**self.params[name], **values}
        checked = op.check(merged, self.info)
        params = dict(self.params)
        params[name] = MappingProxyType(checked)
        on = set(self.enabled)
        if enabled is True or (enabled is None and name in on):
            op.check_enable(self.info)
        if enabled is True:
            on.add(name)
        elif enabled is False:
            on.discard(name)
        return PipelineSpec(self.info, frozenset(on), MappingProxyType(params))

    def active_ops(self) -> list[str]:
        """Names of the enabled ops, in the order they run."""
        return [op.name for op in OPS if op.name in self.enabled]

    def build(self) -> v2.Compose:
        """The torchvision v2 pipeline (``Compose([Identity()])`` when every op is off)."""
        ops = [get_op(n).build(self.params[n], self.info)[0] for n in self.active_ops()]
        return v2.Compose(ops or [v2.Identity()])

    def code(self) -> str:
        """Python source that builds the same pipeline as ``transform`` outside nbviz."""
        lines = [get_op(n).build(self.params[n], self.info)[1] for n in self.active_ops()]
        lines = lines or ["v2.Identity()"]
        needs_nbviz = any("nbviz." in line for line in lines)
        body = "".join(f"    {line},\n" for line in lines)
        header = "import torch\nfrom torchvision.transforms import v2\n"
        if needs_nbviz:
            header += "import nbviz.augment\n"
        return (f"{header}\n# expects float image tensors C x H x W "
                f"({self.info.channels} x {self.info.height} x {self.info.width})\n"
                f"transform = v2.Compose([\n{body}])\n")

    def describe(self, name: str) -> str:
        """Short text of one op's setting, e.g. ``rotation (degrees=15)``."""
        values = ", ".join(f"{k}={_fmt(v)}" for k, v in self.params[name].items())
        return f"{name} ({values})"

    def diff(self, old: PipelineSpec) -> str:
        """What changed from ``old`` to ``self``, in words (for the history event)."""
        parts = []
        for op in OPS:
            n = op.name
            was, now = n in old.enabled, n in self.enabled
            if now and not was:
                parts.append(f"{self.describe(n)} on")
            elif was and not now:
                parts.append(f"{n} off")
            elif now and dict(old.params[n]) != dict(self.params[n]):
                parts.append(f"{self.describe(n)}")
        return "; ".join(parts) or "no change"

    def output_shape(self) -> tuple[int, int, int]:
        """Shape of an augmented image (a crop smaller than the image makes it smaller)."""
        h, w = self.info.size
        if "crop" in self.enabled:
            s = int(self.params["crop"]["size"])
            h = w = s
        return self.info.channels, h, w


def _fmt(value: Any) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_fmt(v) for v in value) + ")"
    return f"{value:g}" if isinstance(value, float) else str(value)


__all__ = ["AugmentationError", "ImageInfo", "PipelineSpec", "image_info"]
