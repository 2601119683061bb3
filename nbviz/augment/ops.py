"""The augmentation ops nbviz offers: their parameters, checks, transform and code.

Every op is described once, by an :class:`Op`: its parameters (with bounds, used both by the
panel's controls and to validate values from anywhere), how to build its torchvision v2
transform, and the source code of that same transform, so the pipeline can be exported.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torchvision.transforms import v2

from .transforms import SpectralDistortion


class AugmentationError(ValueError):
    """A setting that makes no sense; the pipeline in force stays as it was."""


@dataclass(frozen=True)
class ImageInfo:
    """What the ops need to know about the images: channels, height, width, value range."""

    channels: int
    height: int
    width: int
    unit_range: bool = True  # values lie in [0, 1] (so clamping to it is right)

    @property
    def size(self) -> tuple[int, int]:
        return self.height, self.width


@dataclass(frozen=True)
class Param:
    """One parameter: ``kind`` is "prob", "float", "int" or "range" (a (low, high) pair)."""

    name: str
    label: str
    kind: str
    default: Any
    low: float
    high: float
    step: float = 0.01
    colour_only: bool = False  # needs 3 channels (saturation, hue)


def _number(op: str, param: Param, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise AugmentationError(f"{op}: {param.label} must be a number, got {value!r}") from None
    value = float(value)
    if not math.isfinite(value):
        raise AugmentationError(f"{op}: {param.label} must be a finite number, got {value!r}")
    if param.kind == "prob" and value < 0:
        raise AugmentationError(f"{op}: {param.label} is a probability and cannot be negative ({value:g})")
    if not param.low <= value <= param.high:
        raise AugmentationError(
            f"{op}: {param.label} must lie in [{param.low:g}, {param.high:g}], got {value:g}")
    if param.kind == "int":
        if value != int(value):
            raise AugmentationError(f"{op}: {param.label} must be a whole number, got {value:g}")
        return int(value)
    return value


def check_param(op: str, param: Param, value: Any) -> Any:
    """``value`` converted to the parameter's type, or AugmentationError naming the problem."""
    if param.kind != "range":
        return _number(op, param, value)
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise AugmentationError(f"{op}: {param.label} must be a (low, high) pair, got {value!r}")
    low, high = (_number(op, param, v) for v in value)
    if low > high:
        raise AugmentationError(
            f"{op}: {param.label} is an inverted range ({low:g} > {high:g}); give (low, high) with low <= high")
    return (low, high)


Builder = Callable[[Mapping[str, Any], ImageInfo], tuple[v2.Transform, str]]


@dataclass(frozen=True)
class Op:
    """One augmentation: its parameters and how to build (transform, code) from them."""

    name: str
    label: str
    params: tuple[Param, ...]
    build: Builder
    extra_check: Callable[[Mapping[str, Any], ImageInfo], None] | None = None
    note: str = ""
    unit_range_only: bool = False  # clamps to [0, 1]: refused on normalised images

    def check_enable(self, info: ImageInfo) -> None:
        """Raise AugmentationError when this op cannot be switched on for these images."""
        if self.unit_range_only and not info.unit_range:
            raise AugmentationError(
                f"{self.name}: {self.label.lower()} works on images with values in [0, 1] (it "
                "clamps to that range); these images are normalised. Augment before normalising, "
                f"or leave {self.label.lower()} off")

    def default_params(self, info: ImageInfo | None = None) -> dict[str, Any]:
        values = {p.name: p.default for p in self.params}
        if info is not None and self.name == "crop":
            values["size"] = min(info.size)
        return values

    def check(self, values: Mapping[str, Any], info: ImageInfo) -> dict[str, Any]:
        """Validated parameters (defaults for those not given); raises AugmentationError."""
        known = {p.name for p in self.params}
        unknown = sorted(set(values) - known)
        if unknown:
            raise AugmentationError(
                f"{self.name}: unknown parameter(s) {unknown}; it takes {sorted(known)}")
        out = self.default_params(info)
        for param in self.params:
            if param.name in values:
                out[param.name] = check_param(self.name, param, values[param.name])
        for param in self.params:
            if param.colour_only and info.channels != 3 and out[param.name] != param.default:
                raise AugmentationError(
                    f"{self.name}: {param.label} needs 3-channel colour images; these have "
                    f"{info.channels} channel(s)")
        if self.extra_check is not None:
            self.extra_check(out, info)
        return out


BILINEAR = "v2.InterpolationMode.BILINEAR"


def _flip(cls: type, name: str) -> Builder:
    def build(v: Mapping[str, Any], info: ImageInfo) -> tuple[v2.Transform, str]:
        return cls(p=v["p"]), f"v2.{name}(p={v['p']!r})"
    return build


def _crop(v: Mapping[str, Any], info: ImageInfo) -> tuple[v2.Transform, str]:
    size, pad = int(v["size"]), int(v["padding"])
    return (v2.RandomCrop(size, padding=pad, padding_mode="constant"),
            f"v2.RandomCrop({size}, padding={pad})")


def _check_crop(v: Mapping[str, Any], info: ImageInfo) -> None:
    if v["size"] > min(info.size):
        raise AugmentationError(
            f"crop: a {v['size']}-pixel crop is larger than the {info.height}x{info.width} image; "
            f"choose a size <= {min(info.size)} (padding adds a border to crop from, not a bigger output)")


def _zoom(v: Mapping[str, Any], info: ImageInfo) -> tuple[v2.Transform, str]:
    scale = tuple(v["scale"])
    return (v2.RandomAffine(degrees=0, scale=scale, interpolation=v2.InterpolationMode.BILINEAR),
            f"v2.RandomAffine(degrees=0, scale={scale!r}, interpolation={BILINEAR})")


def _rotation(v: Mapping[str, Any], info: ImageInfo) -> tuple[v2.Transform, str]:
    d = v["degrees"]
    return (v2.RandomRotation(degrees=d, interpolation=v2.InterpolationMode.BILINEAR),
            f"v2.RandomRotation(degrees={d!r}, interpolation={BILINEAR})")


def _shift(v: Mapping[str, Any], info: ImageInfo) -> tuple[v2.Transform, str]:
    f = v["fraction"]
    return (v2.RandomAffine(degrees=0, translate=(f, f), interpolation=v2.InterpolationMode.BILINEAR),
            f"v2.RandomAffine(degrees=0, translate=({f!r}, {f!r}), interpolation={BILINEAR})")


def _shear(v: Mapping[str, Any], info: ImageInfo) -> tuple[v2.Transform, str]:
    s = v["degrees"]
    shear = (-s, s, -s, s)
    return (v2.RandomAffine(degrees=0, shear=shear, interpolation=v2.InterpolationMode.BILINEAR),
            f"v2.RandomAffine(degrees=0, shear={shear!r}, interpolation={BILINEAR})")


def _noise(v: Mapping[str, Any], info: ImageInfo) -> tuple[v2.Transform, str]:
    s, clip = v["sigma"], info.unit_range
    return v2.GaussianNoise(mean=0.0, sigma=s, clip=clip), f"v2.GaussianNoise(mean=0.0, sigma={s!r}, clip={clip})"


def _erasing(v: Mapping[str, Any], info: ImageInfo) -> tuple[v2.Transform, str]:
    p, scale = v["p"], tuple(v["scale"])
    return (v2.RandomErasing(p=p, scale=scale, value=0.0),
            f"v2.RandomErasing(p={p!r}, scale={scale!r}, value=0.0)")


def _jitter(v: Mapping[str, Any], info: ImageInfo) -> tuple[v2.Transform, str]:
    kwargs = {k: v[k] for k in ("brightness", "contrast", "saturation", "hue") if v[k] > 0}
    args = ", ".join(f"{k}={val!r}" for k, val in kwargs.items())
    return v2.ColorJitter(**kwargs), f"v2.ColorJitter({args})"


def _spectral(v: Mapping[str, Any], info: ImageInfo) -> tuple[v2.Transform, str]:
    a, ph, p, clip = v["amplitude"], v["phase"], v["p"], info.unit_range
    return (SpectralDistortion(amplitude=a, phase=ph, p=p, clip=clip),
            f"nbviz.augment.SpectralDistortion(amplitude={a!r}, phase={ph!r}, p={p!r}, clip={clip})")


def _prob(default: float = 0.5) -> Param:
    return Param("p", "probability", "prob", default, 0.0, 1.0)


# The order ops run in: geometry first, then colour and frequency content, noise, occlusion.
OPS: tuple[Op, ...] = (
    Op("crop", "Random crop", (Param("size", "size (px)", "int", 28, 1, 4096, 1),
                               Param("padding", "padding (px)", "int", 4, 0, 256, 1)),
       _crop, _check_crop, note="pads the image, then crops back at a random place"),
    Op("zoom", "Zoom", (Param("scale", "scale range", "range", (0.8, 1.2), 0.1, 4.0),), _zoom),
    Op("rotation", "Rotation", (Param("degrees", "max angle (deg)", "float", 15.0, 0.0, 180.0, 1.0),),
       _rotation),
    Op("shift", "Shift", (Param("fraction", "max shift (fraction)", "float", 0.1, 0.0, 1.0),), _shift),
    Op("shear", "Shear", (Param("degrees", "max shear (deg)", "float", 10.0, 0.0, 89.0, 1.0),), _shear),
    Op("hflip", "Horizontal flip", (_prob(),), _flip(v2.RandomHorizontalFlip, "RandomHorizontalFlip")),
    Op("vflip", "Vertical flip", (_prob(),), _flip(v2.RandomVerticalFlip, "RandomVerticalFlip")),
    Op("color", "Colour jitter", (Param("brightness", "brightness", "float", 0.3, 0.0, 1.0),
                                  Param("contrast", "contrast", "float", 0.3, 0.0, 1.0),
                                  Param("saturation", "saturation", "float", 0.0, 0.0, 1.0, colour_only=True),
                                  Param("hue", "hue", "float", 0.0, 0.0, 0.5, colour_only=True)),
       _jitter, unit_range_only=True),
    Op("spectral", "Spectral distortion", (Param("amplitude", "amplitude noise", "float", 0.2, 0.0, 2.0),
                                           Param("phase", "phase noise (rad)", "float", 0.2, 0.0, 3.2),
                                           _prob(1.0)), _spectral,
       note="perturbs the amplitude and phase of the image's Fourier transform"),
    Op("noise", "Gaussian noise", (Param("sigma", "sigma", "float", 0.05, 0.0, 1.0),), _noise),
    Op("erasing", "Occlusion", (_prob(), Param("scale", "area range", "range", (0.02, 0.2), 0.001, 1.0)),
       _erasing, note="blanks a random rectangle (random erasing)"),
)
OPS_BY_NAME: dict[str, Op] = {op.name: op for op in OPS}


def get_op(name: str) -> Op:
    try:
        return OPS_BY_NAME[name]
    except (KeyError, TypeError):
        raise AugmentationError(f"unknown augmentation {name!r}; choose from {list(OPS_BY_NAME)}") from None
