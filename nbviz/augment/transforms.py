"""Augmentations torchvision.transforms.v2 lacks, written as v2 transforms.

They draw their random numbers from torch's global generator, like every v2 transform, so
``torch.manual_seed(s)`` before a call reproduces it.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2


class SpectralDistortion(v2.Transform):
    """Perturb the image's frequency content: the amplitude and phase of its 2-D Fourier transform.

    Each Fourier coefficient (except the zero frequency, so the mean of every channel is kept)
    has its amplitude multiplied by ``exp(amplitude * z1)`` and its phase shifted by
    ``phase * z2`` radians, with ``z1, z2`` standard normal, independent per coefficient and
    shared across channels (so colours shift together). ``amplitude=0, phase=0`` is the
    identity. Works on float images ``(..., C, H, W)``; other inputs pass through.

    Args:
        amplitude: standard deviation of the log-amplitude noise (>= 0).
        phase: standard deviation of the phase noise in radians (>= 0).
        p: probability of distorting a given image.
        clip: clamp the result to [0, 1] (for images in that range).

    Example:
        >>> t = SpectralDistortion(amplitude=0.2, phase=0.3)
        >>> out = t(torch.rand(3, 32, 32))
    """

    def __init__(self, amplitude: float = 0.1, phase: float = 0.1, p: float = 1.0,
                 clip: bool = True) -> None:
        super().__init__()
        for name, value in (("amplitude", amplitude), ("phase", phase)):
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"SpectralDistortion {name} must be a finite number >= 0, got {value!r}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"SpectralDistortion p must be a probability in [0, 1], got {p!r}")
        self.amplitude = float(amplitude)
        self.phase = float(phase)
        self.p = float(p)
        self.clip = bool(clip)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        apply = torch.rand(1) < self.p
        height, width = v2.query_size(flat_inputs)
        shape = (height, width // 2 + 1)
        return {
            "apply": bool(apply),
            "log_gain": torch.randn(shape) * self.amplitude,
            "shift": torch.randn(shape) * self.phase,
        }

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not params["apply"] or not isinstance(inpt, (torch.Tensor,)):
            return inpt
        if isinstance(inpt, (tv_tensors.BoundingBoxes, tv_tensors.Mask, tv_tensors.KeyPoints)):
            return inpt
        if not inpt.is_floating_point():
            raise TypeError("SpectralDistortion needs a float image; add v2.ToDtype(torch.float32, "
                            "scale=True) before it")
        return spectral_distort(inpt, params["log_gain"], params["shift"], self.clip)

    def extra_repr(self) -> str:
        return f"amplitude={self.amplitude}, phase={self.phase}, p={self.p}, clip={self.clip}"


def spectral_distort(image: torch.Tensor, log_gain: torch.Tensor, shift: torch.Tensor,
                     clip: bool = True) -> torch.Tensor:
    """Apply given log-amplitude gains and phase shifts (``H x (W//2+1)``) to ``image``."""
    height, width = image.shape[-2:]
    spectrum = torch.fft.rfft2(image.float())
    log_gain = log_gain.clone()
    shift = shift.clone()
    log_gain[0, 0] = 0.0  # keep the zero frequency: every channel keeps its mean
    shift[0, 0] = 0.0
    factor = torch.polar(torch.exp(log_gain), shift)
    out = torch.fft.irfft2(spectrum * factor, s=(height, width))
    if clip:
        out = out.clamp(0.0, 1.0)
    out = out.to(image.dtype)
    return tv_tensors.wrap(out, like=image) if isinstance(image, tv_tensors.TVTensor) else out


__all__ = ["SpectralDistortion", "spectral_distort"]
