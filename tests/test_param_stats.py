"""ParamStats: what it records, bounded memory, throttling, attaching/detaching, never perturbing."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import manual_step
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import nbviz
from nbviz.models import SmallCNN
from nbviz.probes.act_stats import compute_activation_stats, request_activation_stats
from nbviz.probes.param_stats import Histogram, ParamStats, histogram


class FakeRun:
    def __init__(self) -> None:
        self.step_count = 0

    def wall_time(self) -> float:
        return float(self.step_count)



def test_records_exact_norms_and_update_ratio() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)  # no momentum: update = lr * grad
    stats = ParamStats(model, every=1)
    run = FakeRun()
    x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    opt.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    grad = model[0].weight.grad.clone()
    weight = model[0].weight.detach().clone()
    stats.on_after_backward(run)
    opt.step()
    run.step_count += 1
    stats.on_batch_end(run)
    snap = stats.latest()
    assert snap.step == 1
    rec = snap.params["0.weight"]
    assert rec.shape == (8, 4)
    assert rec.grad_norm == pytest.approx(float(grad.norm()), rel=1e-6)
    assert rec.weight_norm == pytest.approx(float(weight.norm()), rel=1e-6)
    assert rec.update_ratio == pytest.approx(0.1 * float(grad.norm()) / float(weight.norm()), rel=1e-4)
    assert rec.weight.counts.sum() == 32 and rec.grad.counts.sum() == 32
    assert rec.weight.lo == pytest.approx(float(weight.min()))
    assert stats.names(weights_only=True) == ["0.weight", "2.weight"]


def test_histograms_stay_bounded_and_cover_the_whole_run() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    stats = ParamStats(model, every=1, capacity=16, bins=8)
    run = FakeRun()
    x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
    for _ in range(500):
        manual_step(model, opt, stats, run, x, y)
        assert len(stats) <= 17  # capacity plus the newest
    steps = [s.step for s in stats.snapshots()]
    assert steps == sorted(set(steps))
    assert steps[-1] == 500  # the newest is always kept
    assert steps[0] == 1  # thinning keeps look-back over the whole run, evenly spaced
    gaps = np.diff(steps[:-1])
    assert len(set(gaps.tolist())) == 1 and len(stats) >= 9
    assert stats.samples_taken == 500
    assert all(len(s.params["0.weight"].weight.counts) == 8 for s in stats.snapshots())


def test_time_throttle_limits_samples() -> None:
    model = nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    stats = ParamStats(model, max_rate=1.0)  # at most one a second
    now = [0.0]
    stats._timing.clock = lambda: now[0]  # time moves only when the test says (no load can fail it)
    run = FakeRun()
    x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
    for _ in range(50):
        manual_step(model, opt, stats, run, x, y)
    assert stats.samples_taken == 1
    now[0] += 0.99
    manual_step(model, opt, stats, run, x, y)
    assert stats.samples_taken == 1
    now[0] += 0.02  # a second after the first sample
    for _ in range(5):
        manual_step(model, opt, stats, run, x, y)
    assert stats.samples_taken == 2


def test_histogram_handles_nonfinite_constant_and_large() -> None:
    h = histogram(torch.tensor([1.0, float("nan"), 2.0, float("inf")]), 4)
    assert h.nonfinite == 2 and h.counts.sum() == 2 and (h.lo, h.hi) == (1.0, 2.0)
    c = histogram(torch.full((10,), 3.0), 4)
    assert c.counts[0] == 10 and c.lo == c.hi == 3.0
    big = torch.linspace(-1, 1, 1_000_003)
    hb = histogram(big, 10, max_values=10_000)
    assert hb.lo == -1.0 and hb.hi == 1.0 and hb.counts.sum() <= 10_001
    assert np.allclose(hb.counts / hb.counts.sum(), 0.1, atol=0.01)  # same shape as the full data
    grid = Histogram(np.array([1, 1]), 0.0, 2.0).resample(0.0, 4.0, 4)
    assert np.allclose(grid, [0.5, 0.5, 0, 0])


def test_bad_arguments_name_the_problem() -> None:
    model = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        ParamStats("model")
    with pytest.raises(ValueError, match="every"):
        ParamStats(model, every=0)
    with pytest.raises(ValueError, match="budget"):
        ParamStats(model, budget=1.5)
    with pytest.raises(ValueError, match="even"):
        ParamStats(model, capacity=7)
    with pytest.raises(ValueError, match="field"):
        ParamStats(model).series("weight", "loss")
    with pytest.raises(ValueError, match="no optimizer"):
        ParamStats(model).attach(nbviz.watch(model))


def test_watch_loop_uses_optimizer_hooks_and_detach_removes_them() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    viz = nbviz.watch(model, opt)
    stats = ParamStats(model, every=1).attach(viz)
    x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
    for _ in range(3):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        viz.log(loss=0.0)
    assert len(stats) == 3 and stats.latest().params["0.weight"].update_ratio > 0
    stats.detach()
    assert not opt._optimizer_step_pre_hooks and not opt._optimizer_step_post_hooks
    assert not stats.attached


def _train(with_views: bool, split) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = SmallCNN(width=4)
    data = TensorDataset(split.train.tensors[0][:192], split.train.tensors[1][:192])
    loader = DataLoader(data, batch_size=32, shuffle=True)
    session = nbviz.TrainingSession(model, loader, epochs=2, lr=0.05)
    stats = None
    if with_views:
        stats = ParamStats(model, every=1).attach(session)
        probe = session.probe_batch(16)[0]

        class Acts:  # what the activation view does at a batch boundary, here every step
            def on_batch_end(self, run) -> None:
                compute_activation_stats(run.model, probe, run.step_count)

        session.add_callback(Acts())
        request_activation_stats(session, 8).result()
    session.start()
    session.wait()
    if stats is not None:
        assert len(stats) == session.step_count == 12
        stats.detach()
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_batchnorm_model_trains_bit_identically_with_stats_attached(digits_split) -> None:
    plain = _train(False, digits_split)
    watched = _train(True, digits_split)
    assert plain.keys() == watched.keys()
    for key in plain:
        assert torch.equal(plain[key], watched[key]), key
    assert any("running_mean" in k for k in plain)


@pytest.mark.parametrize("arch", ["resnet18", "mobilenet_v3_small"])
def test_torchvision_models(arch: str) -> None:
    import torchvision

    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)(weights=None, num_classes=5)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    stats = ParamStats(model, every=1)
    run = FakeRun()
    manual_step(model, opt, stats, run, torch.randn(2, 3, 32, 32), torch.tensor([0, 3]))
    snap = stats.latest()
    assert set(snap.params) == set(stats.names())
    assert len(stats.names(weights_only=True)) > 15
    assert all(math.isfinite(r.grad_norm) for r in snap.params.values() if r.grad is not None)


def test_the_first_samples_come_at_max_rate_whatever_their_cost() -> None:
    """A short run (a lesson) still gets a curve; after that the time budget spaces samples."""
    from nbviz.probes.budget import FIRST_SAMPLES

    model = nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    stats = ParamStats(model, max_rate=1e6, budget=1e-6)  # any sample costs far over budget
    run = FakeRun()
    x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
    for _ in range(50):
        manual_step(model, opt, stats, run, x, y)
    assert stats.samples_taken == FIRST_SAMPLES
