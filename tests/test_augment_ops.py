"""Validation of augmentation settings: nonsense is refused with the reason, nothing changes."""

from __future__ import annotations

import math

import pytest
import torch

from nbviz.augment import OPS, AugmentationError, ImageInfo, PipelineSpec, image_info

RGB = ImageInfo(3, 32, 32)
GRAY = ImageInfo(1, 28, 28)


def test_every_op_builds_and_keeps_the_shape() -> None:
    spec = PipelineSpec.default(RGB)
    for op in OPS:
        spec = spec.with_changes(op.name, True)
    assert spec.active_ops() == [op.name for op in OPS]
    torch.manual_seed(0)
    out = spec.build()(torch.rand(3, 32, 32))
    assert out.shape == (3, 32, 32) and out.dtype == torch.float32
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0


@pytest.mark.parametrize("name, values, words", [
    ("crop", {"size": 40}, "larger than the 32x32 image"),
    ("zoom", {"scale": (1.2, 0.8)}, "inverted range"),
    ("erasing", {"scale": (0.3, 0.1)}, "inverted range"),
    ("hflip", {"p": -0.1}, "cannot be negative"),
    ("vflip", {"p": 1.5}, "must lie in [0, 1]"),
    ("rotation", {"degrees": math.nan}, "finite"),
    ("rotation", {"degrees": "abc"}, "must be a number"),
    ("noise", {"sigma": -1}, "must lie in"),
    ("crop", {"padding": 2.5}, "whole number"),
    ("zoom", {"scale": 1.0}, "(low, high) pair"),
    ("shift", {"amount": 0.1}, "unknown parameter"),
])
def test_nonsense_is_refused_and_the_old_spec_stays(name: str, values: dict, words: str) -> None:
    spec = PipelineSpec.default(RGB).with_changes("rotation", True, degrees=10)
    with pytest.raises(AugmentationError) as info:
        spec.with_changes(name, True, **values)
    assert words in str(info.value)
    assert spec.active_ops() == ["rotation"] and spec.params["rotation"]["degrees"] == 10


def test_unknown_op_is_named() -> None:
    with pytest.raises(AugmentationError, match="unknown augmentation 'blur'"):
        PipelineSpec.default(RGB).with_changes("blur", True)


def test_saturation_and_hue_need_colour() -> None:
    spec = PipelineSpec.default(GRAY)
    assert spec.params["crop"]["size"] == 28
    with pytest.raises(AugmentationError, match="needs 3-channel colour"):
        spec.with_changes("color", True, saturation=0.4)
    with pytest.raises(AugmentationError, match="needs 3-channel colour"):
        spec.with_changes("color", True, hue=0.1)
    ok = spec.with_changes("color", True, brightness=0.5)
    torch.manual_seed(0)
    assert ok.build()(torch.rand(1, 28, 28)).shape == (1, 28, 28)
    assert PipelineSpec.default(RGB).with_changes("color", True, hue=0.1).params["color"]["hue"] == 0.1


def test_image_info_refuses_non_images() -> None:
    with pytest.raises(AugmentationError, match="applies to image tensors"):
        image_info(torch.rand(20))
    with pytest.raises(AugmentationError, match="applies to image tensors"):
        image_info("text")
    with pytest.raises(AugmentationError, match="float image"):
        image_info(torch.zeros(3, 8, 8, dtype=torch.uint8))
    assert image_info(torch.rand(1, 28, 28)) == ImageInfo(1, 28, 28, True)
    assert not image_info(torch.randn(3, 8, 8)).unit_range


def test_normalised_data_is_not_clipped_to_unit_range() -> None:
    info = image_info(torch.randn(3, 16, 16) * 2)
    with pytest.raises(AugmentationError, match="colour jitter works on images with values in"):
        PipelineSpec.default(info).with_changes("color", True)
    spec = PipelineSpec.default(info).with_changes("noise", True, sigma=0.5)
    assert "clip=False" in spec.code()
    torch.manual_seed(0)
    assert float(spec.build()(torch.full((3, 16, 16), -3.0)).max()) < 0


def test_diff_names_what_changed() -> None:
    a = PipelineSpec.default(RGB)
    b = a.with_changes("rotation", True, degrees=20)
    assert b.diff(a) == "rotation (degrees=20) on"
    c = b.with_changes("rotation", degrees=30)
    assert c.diff(b) == "rotation (degrees=30)"
    assert c.with_changes("rotation", False).diff(c) == "rotation off"


def test_preview_tiles_of_large_images_are_downsized() -> None:
    from nbviz.augment.preview import MAX_TILE, draw, to_tiles

    spec = PipelineSpec.default(ImageInfo(3, 224, 160)).with_changes("hflip", True, p=1.0)
    grid = draw(torch.rand(2, 3, 224, 160), spec, draws=2, seed=0)
    assert grid.shape == (2, 3, 3, 224, 160) and torch.equal(grid[:, 1], grid[:, 0].flip(-1))
    tiles = to_tiles(grid, unit_range=True)
    assert tiles.shape == (6, MAX_TILE, round(160 * MAX_TILE / 224), 3) and tiles.dtype.name == "uint8"
