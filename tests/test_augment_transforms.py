"""Statistics of nbviz's own transforms (spectral distortion) and the noise op."""

from __future__ import annotations

import pytest
import torch

from nbviz.augment import ImageInfo, PipelineSpec, SpectralDistortion


def _log_ratio(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """log(|F(y)| / |F(x)|) over the rfft bins fully determined by the transform (no edge columns)."""
    fx, fy = torch.fft.rfft2(x.double()), torch.fft.rfft2(y.double())
    return (fy.abs() / fx.abs()).log()[..., 1:-1]


def test_zero_strength_is_identity() -> None:
    x = torch.rand(3, 32, 32)
    torch.manual_seed(0)
    assert torch.allclose(SpectralDistortion(0.0, 0.0)(x), x, atol=1e-5)


def test_channel_means_are_kept() -> None:
    x = torch.rand(3, 32, 32)
    torch.manual_seed(0)
    y = SpectralDistortion(amplitude=0.5, phase=1.0, clip=False)(x)
    assert torch.allclose(y.mean((1, 2)), x.mean((1, 2)), atol=1e-5)
    assert (y - x).abs().mean() > 0.02


def test_phase_noise_keeps_the_amplitude_spectrum() -> None:
    x = torch.rand(1, 32, 32)
    torch.manual_seed(1)
    y = SpectralDistortion(amplitude=0.0, phase=0.8, clip=False)(x)
    assert _log_ratio(x, y).abs().max() < 1e-4
    angle = torch.angle(torch.fft.rfft2(y.double()) / torch.fft.rfft2(x.double()))[..., 1:-1]
    assert 0.5 < float(angle.std()) < 1.0  # wrapped N(0, 0.8)


@pytest.mark.parametrize("sigma", [0.1, 0.4])
def test_amplitude_noise_is_log_normal_with_the_given_sigma(sigma: float) -> None:
    x = torch.rand(3, 64, 64)
    torch.manual_seed(2)
    ratio = _log_ratio(x, SpectralDistortion(amplitude=sigma, phase=0.0, clip=False)(x))[:, 1:]
    assert abs(float(ratio.mean())) < 0.1 * sigma + 0.01
    assert abs(float(ratio.std()) / sigma - 1) < 0.1
    # shared across channels: every channel gets the same gains
    assert torch.allclose(ratio[0], ratio[1], atol=1e-3)


def test_probability_and_seeding() -> None:
    x = torch.rand(1, 16, 16)
    t = SpectralDistortion(amplitude=0.3, phase=0.3, p=0.5)
    torch.manual_seed(3)
    changed = sum(not torch.equal(t(x), x) for _ in range(200))
    assert 70 < changed < 130
    torch.manual_seed(4)
    a = t(x)
    torch.manual_seed(4)
    assert torch.equal(a, t(x))
    assert torch.equal(SpectralDistortion(0.3, 0.3, p=0.0)(x), x)


def test_result_stays_in_unit_range_and_non_float_is_refused() -> None:
    torch.manual_seed(5)
    y = SpectralDistortion(amplitude=1.5, phase=2.0)(torch.rand(3, 32, 32))
    assert 0.0 <= float(y.min()) and float(y.max()) <= 1.0
    with pytest.raises(TypeError, match="float image"):
        SpectralDistortion()(torch.zeros(3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="amplitude"):
        SpectralDistortion(amplitude=-1)
    with pytest.raises(ValueError, match="probability"):
        SpectralDistortion(p=2)


def test_gaussian_noise_op_has_the_given_sigma() -> None:
    spec = PipelineSpec.default(ImageInfo(1, 64, 64)).with_changes("noise", True, sigma=0.05)
    x = torch.full((1, 64, 64), 0.5)
    torch.manual_seed(6)
    delta = spec.build()(x) - x
    assert abs(float(delta.mean())) < 0.005
    assert abs(float(delta.std()) - 0.05) < 0.005
