"""toy2d: seeded 2-D teaching sets, split like the other datasets, bad input refused."""

from __future__ import annotations

import pytest
import torch

from nbviz.datasets import TOY2D_KINDS, toy2d
from nbviz.datasets.toy2d import toy2d_points


@pytest.mark.parametrize("kind", TOY2D_KINDS)
def test_every_kind_is_seeded_balanced_and_split(kind):
    data = toy2d(kind, n=400, noise=0.1, seed=3)
    again = toy2d(kind, n=400, noise=0.1, seed=3)
    other = toy2d(kind, n=400, noise=0.1, seed=4)
    x, y = data.train.tensors
    assert x.dtype == torch.float32 and x.shape[1] == 2 and y.dtype == torch.int64
    assert len(data.train) + len(data.val) == 400 and len(data.val) == 200
    assert torch.equal(x, again.train.tensors[0]) and torch.equal(data.val.tensors[1], again.val.tensors[1])
    assert not torch.equal(x, other.train.tensors[0])
    points, labels = toy2d_points(kind, 400, 0.1, 3)
    assert int(labels.sum()) == 200  # two balanced classes
    assert points.abs().max() < 10 and torch.isfinite(points).all()
    train, val = data.loaders(batch_size=32)
    batch_x, batch_y = next(iter(train))
    assert batch_x.shape == (32, 2) and batch_y.shape == (32,)
    assert data.classes == ["0", "1"] and data.name == f"toy2d-{kind}"


def test_noise_moves_points_and_zero_noise_is_clean():
    clean, labels = toy2d_points("circles", 200, 0.0, 0)
    radius = clean.norm(dim=1)
    assert (radius[labels == 0] <= 2.0).all() and (radius[labels == 1] >= 3.5).all()
    noisy, _ = toy2d_points("circles", 200, 0.5, 0)
    assert not torch.equal(clean, noisy)


def test_xor_labels_follow_the_quadrants_without_noise():
    points, labels = toy2d_points("xor", 300, 0.0, 1)
    assert torch.equal(labels, (points[:, 0] * points[:, 1] < 0).long())


def test_val_fraction_is_honoured():
    data = toy2d("moons", n=100, val_fraction=0.2)
    assert (len(data.train), len(data.val)) == (80, 20)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"kind": "swirl"}, "unknown toy2d kind 'swirl'.*circles, xor, gaussians, spiral, moons"),
    ({"kind": "xor", "n": 2}, "n must be a whole number from 4"),
    ({"kind": "xor", "n": 10.5}, "n must be"),
    ({"kind": "xor", "noise": -0.1}, "noise must be a number from 0 to 5"),
    ({"kind": "xor", "val_fraction": 1.0}, "val_fraction"),
])
def test_bad_arguments_are_refused_clearly(kwargs, match):
    with pytest.raises(ValueError, match=match):
        toy2d(**kwargs)
