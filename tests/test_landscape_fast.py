"""The fast grid path: nested levels, several workers, chunked channels-last evaluation and the
faster equivalent layers give the values a plain evaluation gives."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from torch import nn

from nbviz.landscape import Plane, SurfaceJob, flat_parameters, model_copy, random_directions
from nbviz.landscape.evaluate import ProbeEvaluator
from nbviz.landscape.fusion import FoldedConvBN, StridedMaxPool, speed_up
from nbviz.landscape.surface import axis_levels
from nbviz.landscape.threads import set_thread_ops
from nbviz.models import ShapesCNN, SmallCNN


def trained_bn(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """Give BatchNorm non-trivial running statistics and affine values."""
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(x)
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return model.eval()


def plain_loss(model: nn.Module, vector: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    clone = model_copy(model)
    offset = 0
    with torch.no_grad():
        for p in clone.parameters():
            p.copy_(vector[offset:offset + p.numel()].view(p.shape))
            offset += p.numel()
        out = clone(x)
    return float(nn.functional.cross_entropy(out, y)), float((out.argmax(1) == y).float().mean())


def test_nested_levels_reuse_every_point() -> None:
    sides = []
    level = axis_levels(41, 9)
    for k in range(level.max() + 1):
        sides.append(int((level <= k).sum()))
        if k:  # each level holds the previous one
            assert set(np.flatnonzero(level <= k - 1)) < set(np.flatnonzero(level <= k))
    assert sides == [3, 5, 9, 17, 33, 41]
    assert set(np.flatnonzero(level <= 2)) == set(range(0, 41, 5))  # the 9 x 9 lies on the grid
    assert level[20] == 0  # the centre (current weights) comes first


def test_several_workers_give_the_direct_values_and_fill_coarse_first() -> None:
    torch.manual_seed(0)
    model = trained_bn(SmallCNN(), torch.rand(64, 1, 28, 28))
    g = torch.Generator().manual_seed(2)
    x, y = torch.rand(100, 1, 28, 28, generator=g), torch.randint(0, 10, (100,), generator=g)  # 64 + 36
    plane = Plane(flat_parameters(model), *random_directions(model))
    levels: list[int] = []
    job = SurfaceJob(model_copy(model), plane, x, y, nn.functional.cross_entropy, size=9, coarse=5,
                     span=0.8, workers=2)
    job._on_progress = lambda: levels.append(job.level_size())
    job.run()
    assert job.state == "done" and job.workers == 2 and job.done == 81 and job.cpu_seconds > 0
    assert levels == sorted(levels) and levels[-1] == 9 and 3 in levels and 5 in levels
    for i, j in [(0, 0), (4, 4), (2, 7), (8, 1), (5, 3)]:
        loss, acc = plain_loss(model, plane.point(float(job.coords[j]), float(job.coords[i])), x, y)
        assert job.loss[i, j] == pytest.approx(loss, rel=1e-4, abs=1e-5)
        assert job.acc[i, j] == pytest.approx(acc)
    one = SurfaceJob(model_copy(model), plane, x, y, nn.functional.cross_entropy, size=9, coarse=5,
                     span=0.8, workers=1)
    one.run()
    np.testing.assert_allclose(one.loss, job.loss, rtol=1e-5)


def test_a_failing_worker_fails_the_job_with_its_error() -> None:
    model = SmallCNN()
    x, y = torch.rand(32, 1, 28, 28), torch.randint(0, 10, (32,))
    plane = Plane(flat_parameters(model), *random_directions(model))

    def bad_loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("loss exploded")

    job = SurfaceJob(model_copy(model), plane, x, y, bad_loss, size=5, coarse=3, workers=2)
    job.run()
    assert job.state == "failed" and "loss exploded" in str(job.error)


def test_faster_layers_equal_the_originals() -> None:
    torch.manual_seed(0)
    x = torch.randn(6, 3, 33, 31)
    for model in (trained_bn(ShapesCNN(width=8), x), nn.Sequential(
            nn.Conv2d(3, 4, 3, bias=True), nn.BatchNorm2d(4, affine=False), nn.MaxPool2d(3),
            nn.Conv2d(4, 4, 1), nn.MaxPool2d(2, stride=1), nn.MaxPool2d(2, ceil_mode=True)).eval()):
        before = [id(p) for p in model.parameters()]
        clone = model_copy(model)
        with torch.no_grad():
            expected = model(x)
            folded = speed_up(clone)
            assert [p.shape for p in clone.parameters()] == [p.shape for p in model.parameters()]
            got = clone(x)
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
        assert [id(p) for p in model.parameters()] == before  # the original is not touched
        assert not any(isinstance(m, (FoldedConvBN, StridedMaxPool)) for m in model.modules())
    kinds = [type(m).__name__ for m in clone.modules()]
    assert kinds.count("FoldedConvBN") == 1 and kinds.count("StridedMaxPool") == 1  # stride 1 and ceil kept
    assert speed_up(clone) == folded  # idempotent
    nan = torch.zeros(1, 1, 4, 4)
    nan[0, 0, 1, 1] = float("nan")
    assert torch.isnan(StridedMaxPool(2)(nan)[0, 0, 0, 0]) and torch.isnan(nn.MaxPool2d(2)(nan)[0, 0, 0, 0])


def test_evaluator_refolds_after_the_weights_move() -> None:
    torch.manual_seed(0)
    model = trained_bn(SmallCNN(), torch.rand(32, 1, 28, 28))
    x, y = torch.rand(40, 1, 28, 28), torch.randint(0, 10, (40,))
    d1, d2 = (torch.randn(flat_parameters(model).numel()) * 0.05 for _ in range(2))  # BatchNorm moves too
    plane = Plane(flat_parameters(model), d1, d2)
    ev = ProbeEvaluator(model_copy(model), x, y, nn.functional.cross_entropy, chunk=16)
    ev.set_plane(plane.origin, plane.d1, plane.d2)
    assert ev.folded
    for a, b in [(0.0, 0.0), (1.0, -0.5), (0.0, 0.0)]:
        assert ev.at(a, b)[0] == pytest.approx(plain_loss(model, plane.point(a, b), x, y)[0], rel=1e-4)
    # the first convolution (folded with its BatchNorm) ran from cached probe patches
    assert len(ev.columns) == 1 and isinstance(ev.columns[0].inner, FoldedConvBN)
    assert len(ev.columns[0]._cols) == len(ev.batches) == 3


def test_thread_ops_change_only_the_calling_thread() -> None:
    before = torch.get_num_threads()
    seen: dict[str, object] = {}

    def worker() -> None:
        seen["previous"] = set_thread_ops(1)
        seen["inside"] = torch.get_num_threads()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert torch.get_num_threads() == before
    if seen["previous"] is not None:
        assert seen["inside"] == 1 and seen["previous"] == before


def test_contour_paths_lie_on_their_levels() -> None:
    from nbviz.landscape.contours import contour_paths

    coords = np.linspace(-1, 1, 41)
    gx, gy = np.meshgrid(coords, coords)
    grid = gx ** 2 + 0.25 * gy ** 2  # rows are y
    x, y = contour_paths(coords, grid, [0.1, 0.2])
    breaks = np.flatnonzero(np.isnan(x))
    assert len(breaks) == 1 and np.isnan(y[breaks]).all()  # two closed ellipses, one NaN break
    for part, level in ((slice(0, breaks[0]), 0.1), (slice(breaks[0] + 1, None), 0.2)):
        values = x[part] ** 2 + 0.25 * y[part] ** 2
        np.testing.assert_allclose(values, level, rtol=0.03)
    assert contour_paths(coords, grid, [5.0])[0].size == 0  # a level the grid never reaches


def test_first_convolution_on_the_probe_uses_cached_patches_and_nothing_else() -> None:
    from nbviz.landscape.fusion import ProbeColumnsConv, cache_probe_columns

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 5, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(5, 2, 3)).eval()
    chunks = [torch.randn(4, 3, 9, 11), torch.randn(3, 3, 9, 11)]
    clone = model_copy(model)
    wrapped = cache_probe_columns(clone, chunks)
    assert len(wrapped) == 1 and isinstance(clone[0], ProbeColumnsConv)  # 5 input channels: left alone
    assert [p.data_ptr() for p in clone.parameters()] != [p.data_ptr() for p in model.parameters()]
    assert [p.shape for p in clone.parameters()] == [p.shape for p in model.parameters()]
    with torch.no_grad():
        for x in chunks:
            torch.testing.assert_close(clone(x), model(x), rtol=1e-5, atol=1e-5)
        assert len(wrapped[0]._cols) == 2  # both chunks were served from patches
        other = torch.randn(4, 3, 9, 11)
        torch.testing.assert_close(clone(other), model(other), rtol=1e-5, atol=1e-5)
        assert len(wrapped[0]._cols) == 2  # another input is not cached
        chunks[0].mul_(2)  # a changed probe tensor is unfolded again, not served stale
        torch.testing.assert_close(clone(chunks[0]), model(chunks[0]), rtol=1e-5, atol=1e-5)
        clone[0].conv.weight.add_(0.5)  # new weights are used at once
        model[0].weight.add_(0.5)
        torch.testing.assert_close(clone(chunks[1]), model(chunks[1]), rtol=1e-5, atol=1e-5)
    big = [torch.randn(1024, 3, 64, 64)]  # patches would exceed the budget: not wrapped
    assert cache_probe_columns(model_copy(model), big) == []
