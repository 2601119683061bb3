"""nbviz.landscape: directions, grids, projection, line, Hessian and the trajectory recorder."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import make_loader
from torch import nn

import nbviz
from nbviz.landscape import (
    Plane,
    SurfaceJob,
    TrajectoryRecorder,
    evaluate_at,
    filter_normalize,
    flat_parameters,
    hessian_directions,
    interpolate,
    model_copy,
    pca_directions,
    project,
    random_directions,
)
from nbviz.models import SmallCNN


def probe(n: int = 64, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


def direct_loss(model: nn.Module, plane: Plane, a: float, b: float, x, y) -> tuple[float, float]:
    """The loss at origin + a d1 + b d2, set parameter by parameter on a fresh copy."""
    clone = model_copy(model)
    offset = 0
    with torch.no_grad():
        for p in clone.parameters():
            n = p.numel()
            p.copy_((plane.origin[offset:offset + n] + a * plane.d1[offset:offset + n]
                     + b * plane.d2[offset:offset + n]).view(p.shape))
            offset += n
        out = clone(x)
    return float(nn.functional.cross_entropy(out, y)), float((out.argmax(1) == y).float().mean())


def test_filter_normalisation_matches_each_filter_norm() -> None:
    torch.manual_seed(0)
    model = SmallCNN()
    d = filter_normalize(torch.randn(flat_parameters(model).numel()), model)
    offset = 0
    for p in model.parameters():
        piece = d[offset:offset + p.numel()].view(p.shape)
        if p.dim() >= 2:
            np.testing.assert_allclose(piece.reshape(p.shape[0], -1).norm(dim=1).numpy(),
                                       p.detach().reshape(p.shape[0], -1).norm(dim=1).numpy(), rtol=1e-5)
        else:
            assert torch.count_nonzero(piece) == 0  # biases and BatchNorm are left out (Li et al.)
        offset += p.numel()
    assert offset == d.numel()


def test_random_directions_do_not_touch_the_global_rng() -> None:
    model = SmallCNN()
    state = torch.get_rng_state()
    d1, d2 = random_directions(model, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    assert not torch.equal(d1, d2)
    assert torch.equal(random_directions(model, seed=3)[0], d1)  # reproducible


def test_grid_equals_direct_evaluation_and_model_is_untouched() -> None:
    torch.manual_seed(0)
    model = SmallCNN()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = probe()
    d1, d2 = random_directions(model)
    plane = Plane(flat_parameters(model), d1, d2)
    job = SurfaceJob(model_copy(model), plane, x, y, nn.functional.cross_entropy, size=5, coarse=3, span=0.5)
    job.run()
    assert job.state == "done" and job.done == 25
    for i in range(5):
        for j in range(5):
            loss, acc = direct_loss(model, plane, float(job.coords[j]), float(job.coords[i]), x, y)
            assert job.loss[i, j] == pytest.approx(loss, rel=1e-4, abs=1e-5)
            assert job.acc[i, j] == pytest.approx(acc)
    assert job.loss[2, 2] != job.loss[0, 0]
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_progressive_grid_shows_coarse_first_and_cancels() -> None:
    torch.manual_seed(0)
    model = SmallCNN()
    x, y = probe(32)
    plane = Plane(flat_parameters(model), *random_directions(model))
    seen: list[int] = []
    job = SurfaceJob(model_copy(model), plane, x, y, nn.functional.cross_entropy, size=9, coarse=3,
                     workers=1)  # one worker: no point can finish after the cancel

    def progress() -> None:
        seen.append(job.done)
        if job.done == 9:  # the coarse 3x3 grid is complete
            loss, _acc, done = job.grids()
            assert done == 9 and not np.isnan(loss).any()  # filled from the nearest coarse point
            assert np.isnan(job.loss).sum() == 81 - 9
            assert not np.isnan(job.loss[::4, ::4]).any()
            job.cancel()

    job._on_progress = progress
    job.start().join(60)
    assert job.state == "cancelled" and job.done == 9 and seen[-1] == 9


@pytest.mark.parametrize("kwargs, message", [
    ({"size": 40}, "odd"), ({"size": 41, "coarse": 8}, "coarse"), ({"span": 0}, "range"),
    ({"span": float("nan")}, "range"), ({"size": 103}, "odd")])
def test_bad_grid_is_refused(kwargs: dict, message: str) -> None:
    model = SmallCNN()
    x, y = probe(32)
    plane = Plane(flat_parameters(model), *random_directions(model))
    with pytest.raises(ValueError, match=message):
        SurfaceJob(model, plane, x, y, nn.functional.cross_entropy, **kwargs)


def test_bad_probe_and_frozen_model_are_refused() -> None:
    model = SmallCNN()
    plane = Plane(flat_parameters(model), *random_directions(model))
    with pytest.raises(ValueError, match="probe size"):
        SurfaceJob(model, plane, *probe(8), nn.functional.cross_entropy)
    frozen = nn.Linear(3, 2).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        random_directions(frozen)
    with pytest.raises(ValueError, match="no trainable parameters"):
        model_copy(frozen)


def test_projection_of_a_path_in_the_plane_has_distance_zero() -> None:
    g = torch.Generator().manual_seed(0)
    origin, d1, d2 = (torch.randn(500, generator=g) for _ in range(3))
    plane = Plane(origin, d1, d2)
    a_true, b_true = np.linspace(-1, 1, 7), np.linspace(0.5, -0.3, 7)
    path = torch.stack([plane.point(float(a), float(b)) for a, b in zip(a_true, b_true, strict=True)])
    a, b, dist = project(path.numpy(), plane)
    np.testing.assert_allclose(a, a_true, atol=1e-4)
    np.testing.assert_allclose(b, b_true, atol=1e-4)
    np.testing.assert_allclose(dist, 0, atol=1e-3)
    normal = torch.randn(500, generator=g)
    basis = torch.stack([d1, d2]).double()
    normal = normal.double() - basis.T @ torch.linalg.solve(basis @ basis.T, basis @ normal.double())
    off = (plane.point(0.2, 0.1).double() + 3 * normal / normal.norm()).float()
    assert project(off.numpy(), plane)[2][0] == pytest.approx(3.0, rel=1e-4)
    with pytest.raises(ValueError, match="parallel"):
        project(path.numpy(), Plane(origin, d1, 2 * d1))


def test_pca_directions_find_the_plane_of_the_path() -> None:
    g = torch.Generator().manual_seed(0)
    u, v = torch.randn(300, generator=g), torch.randn(300, generator=g)
    end = torch.randn(300, generator=g)
    pts = torch.stack([end + 3 * t * u + t * t * v for t in np.linspace(1, 0, 12)])
    (p1, p2), share = pca_directions(pts.numpy(), end.numpy())
    plane = Plane(end, p1, p2)
    assert project(pts.numpy(), plane)[2].max() < 1e-3  # the trajectory lies on this plane
    assert share[0] > share[1] > 0
    with pytest.raises(ValueError, match="trajectory of at least 3"):
        pca_directions(pts[:2].numpy(), end.numpy())
    with pytest.raises(ValueError, match="not moved"):
        pca_directions(torch.stack([end] * 5).numpy(), end.numpy())


def test_hessian_directions_agree_with_dense_eigendecomposition() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))
    x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    params = list(model.parameters())
    flat = flat_parameters(model)
    shapes = [p.shape for p in params]

    def loss_of(vec: torch.Tensor) -> torch.Tensor:
        chunks, offset = [], 0
        for s in shapes:
            n = int(np.prod(s))
            chunks.append(vec[offset:offset + n].view(s))
            offset += n
        h = torch.tanh(x @ chunks[0].T + chunks[1])
        return nn.functional.cross_entropy(h @ chunks[2].T + chunks[3], y)

    dense = torch.autograd.functional.hessian(loss_of, flat.double().float())
    vals, vecs = torch.linalg.eigh(dense.double())
    order = torch.argsort(vals.abs(), descending=True)
    dirs, eig = hessian_directions(model_copy(model), nn.functional.cross_entropy, x, y,
                                   count=2, iterations=flat.numel())
    for k in range(2):
        assert eig[k] == pytest.approx(float(vals[order[k]]), rel=1e-3)
        assert abs(float(dirs[k].double() @ vecs[:, order[k]])) == pytest.approx(1.0, abs=1e-3)


def test_line_interpolation_hits_both_ends() -> None:
    torch.manual_seed(0)
    model = SmallCNN()
    x, y = probe()
    start = flat_parameters(model)
    end = start + random_directions(model)[0]
    alphas, loss, acc = interpolate(model_copy(model), start, end, x, y, nn.functional.cross_entropy,
                                    points=5, lo=0.0, hi=1.0)
    clone = model_copy(model)
    assert loss[0] == pytest.approx(evaluate_at(clone, start, x, y, nn.functional.cross_entropy)[0], rel=1e-5)
    assert loss[-1] == pytest.approx(evaluate_at(clone, end, x, y, nn.functional.cross_entropy)[0], rel=1e-5)
    assert alphas.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    with pytest.raises(ValueError, match="points"):
        interpolate(clone, start, end, x, y, nn.functional.cross_entropy, points=2)
    with pytest.raises(ValueError, match="different models"):
        interpolate(clone, start, end[:-1], x, y, nn.functional.cross_entropy)


def test_batchnorm_resnet_is_evaluated_in_eval_mode_on_a_copy() -> None:
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=10).train()
    stats = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    x, y = torch.rand(16, 3, 32, 32), torch.randint(0, 10, (16,))
    plane = Plane(flat_parameters(model), *random_directions(model))
    job = SurfaceJob(model_copy(model), plane, x, y, nn.functional.cross_entropy, size=5, coarse=3)
    job.run()
    assert job.state == "done" and np.isfinite(job.loss).all()
    assert model.training  # the user's model keeps its mode and its BatchNorm statistics
    for k, v in stats.items():
        assert torch.equal(model.state_dict()[k], v), k
    # eval mode: the centre equals the model's own eval-mode loss
    model.eval()
    with torch.no_grad():
        assert job.loss[2, 2] == pytest.approx(float(nn.functional.cross_entropy(model(x), y)), rel=1e-4)


def test_recorder_is_bounded_keeps_first_and_newest() -> None:
    model = nn.Linear(10, 10)  # 110 weights: 440 bytes a snapshot
    rec = TrajectoryRecorder(model, every=1, max_bytes=440 * 8)
    assert rec.capacity == 8

    class Run:
        step_count = 0

    first = flat_parameters(model).numpy().copy()
    rec._record(0)
    for step in range(1, 100):
        with torch.no_grad():
            model.weight.add_(0.01)
        Run.step_count = step
        rec.on_batch_end(Run)
    steps, weights = rec.snapshots()
    assert len(steps) <= rec.capacity + 1 and steps[0] == 0 and steps[-1] == 99
    np.testing.assert_array_equal(weights[0], first)
    np.testing.assert_array_equal(weights[-1], flat_parameters(model).numpy())
    gaps = np.diff(steps[:-1])
    assert len(set(gaps.tolist())) == 1  # evenly thinned
    with pytest.raises(ValueError, match="max_bytes"):
        TrajectoryRecorder(model, max_bytes=440 * 3)


def train(record: bool) -> tuple[dict[str, torch.Tensor], TrajectoryRecorder | None]:
    torch.manual_seed(0)
    session = nbviz.TrainingSession(SmallCNN(), make_loader(), epochs=1)
    rec = TrajectoryRecorder(session.model, every=2).attach(session) if record else None
    session.start()
    session.wait(120)
    if rec is not None:
        rec.detach()
    return {k: v.clone() for k, v in session.model.state_dict().items()}, rec


def test_training_is_bit_identical_with_the_recorder() -> None:
    plain, _ = train(False)
    recorded, rec = train(True)
    for k in plain:
        assert torch.equal(plain[k], recorded[k]), k
    assert rec is not None
    steps, weights = rec.snapshots()
    assert steps[0] == 0 and steps[-1] == 16 and len(steps) == 9
    np.testing.assert_array_equal(weights[-1], torch.cat([v.reshape(-1) for k, v in recorded.items()
                                                           if "running" not in k and "num_batches" not in k]).numpy())


def test_two_parameter_plane_moves_only_those_values() -> None:
    from nbviz.landscape.params2d import two_parameter_plane

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    plane = two_parameter_plane(model, ("0.weight", 5), ("2.bias", 1))
    moved = plane.point(0.5, -2.0) - plane.origin
    assert moved[5] == 0.5 and moved[12 + 3 + 6 + 1] == -2.0 and torch.count_nonzero(moved) == 2
    with pytest.raises(ValueError, match="same"):
        two_parameter_plane(model, ("0.bias", 1), ("0.bias", 1))
    with pytest.raises(ValueError, match="outside 0..2"):
        two_parameter_plane(model, ("0.bias", 3), ("0.bias", 1))
    with pytest.raises(ValueError, match="not a trainable parameter"):
        two_parameter_plane(model, ("nope", 0), ("0.bias", 1))


def test_recorder_reuses_buffers_without_corrupting_kept_snapshots() -> None:
    model = nn.Linear(10, 10)
    rec = TrajectoryRecorder(model, every=1, max_bytes=440 * 8)
    first = flat_parameters(model).numpy().copy()

    class Run:
        step_count = 0

    for step in range(300):
        Run.step_count = step
        rec.on_batch_end(Run)
        with torch.no_grad():
            model.weight.add_(1.0)
        assert len(rec._free) + len(rec._live) <= rec.capacity + 1  # the memory bound holds
    steps, weights = rec.snapshots()
    assert rec._free  # dropped buffers were kept for reuse
    for step, w in zip(steps, weights, strict=True):  # each kept snapshot is its own step's weights
        np.testing.assert_allclose(w[:100], first[:100] + step)
        np.testing.assert_array_equal(w[100:], first[100:])
    latest = rec.latest()
    assert latest is not None and latest[0] == 299 and latest[1] is not rec._latest[1]  # a copy
