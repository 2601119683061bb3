"""The BatchNorm statistics backup follows the model: a layer swapped by hand (not through a
session command) is backed up from the next step, so a NaN batch cannot poison it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from helpers import wait_until
from torch import nn

import nbviz
from nbviz.session.norm_stats import NormStatsBackup, tree_generation


def batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Four batches of 2-D points; the fourth is NaN (its loss is not finite)."""
    g = torch.Generator().manual_seed(0)
    data = [(torch.randn(8, 2, generator=g), torch.randint(0, 2, (8,), generator=g))
            for _ in range(4)]
    data[3][0][:] = float("nan")
    return data


def fresh_norm() -> nn.BatchNorm1d:
    norm = nn.BatchNorm1d(8)
    with torch.no_grad():
        norm.running_mean.copy_(torch.linspace(-1, 1, 8))
        norm.running_var.fill_(2.0)
    return norm


class Recorder(nbviz.Callback):
    """The new layer's running mean after each step, and an optional swap at one step."""

    def __init__(self) -> None:
        self.norm: nn.BatchNorm1d | None = None
        self.means: dict[int, torch.Tensor] = {}
        self.swap_at: tuple[int, Callable[[], None]] | None = None

    def on_batch_end(self, run: nbviz.TrainingSession) -> None:
        if self.swap_at is not None and run.step_count == self.swap_at[0]:
            self.swap_at[1]()
        if self.norm is not None:
            self.means[run.step_count] = self.norm.running_mean.clone()


def _swap_layer(model: nn.Sequential, new: nn.Module) -> None:
    model[1] = new  # nn.Sequential.__setitem__: setattr, seen by torch's registration hook


def _swap_unseen(model: nn.Sequential, new: nn.Module) -> None:
    model._modules["1"] = new  # no hook sees this; the pause (or the new run) must


HOW = {
    "setitem while paused": ("pause", _swap_layer),
    "_modules write while paused": ("pause", _swap_unseen),
    "_modules write between runs": ("restart", _swap_unseen),
    "setitem from a callback while running": ("callback", _swap_layer),
}


@pytest.mark.parametrize("how", list(HOW))
def test_a_layer_swapped_by_hand_is_backed_up_and_kept_from_a_nan_batch(how: str) -> None:
    when, swap = HOW[how]
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    session = nbviz.TrainingSession(model, batches(), epochs=1, tune_allocator=False)
    new, recorder = fresh_norm(), Recorder()  # built before the run: no hook fires later
    session.add_callback(recorder)
    try:
        if when == "callback":
            recorder.swap_at = (2, lambda: swap(model, new))
            recorder.norm = new
            session.start()
        else:
            session.step(2)
            wait_until(lambda: session.state == "paused" and session.step_count == 2)
            assert not any(b is new.running_mean for b in session._norm_buffers())
            if when == "restart":
                session.stop()
                assert session.state == "stopped"
            swap(model, new)
            recorder.norm = new
            session.start()  # resumes the paused run, or starts a new one after the stop
        wait_until(lambda: session.state == "paused" and "loss became nan" in session.status_message)
        last = session.step_count  # the NaN batch was not applied
        assert model[1] is new
        assert any(b is new.running_mean for b in session._norm_buffers())
        saved = session._norm.saved
        assert any(torch.equal(s, recorder.means[last]) for s in saved), "new layer not backed up"
        assert torch.isfinite(new.running_mean).all() and torch.isfinite(new.running_var).all()
        assert torch.equal(new.running_mean, recorder.means[last])
    finally:
        session.stop()


def test_the_module_tree_is_walked_again_only_when_it_may_have_changed() -> None:
    model = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4))
    backup = NormStatsBackup()
    first = backup.buffers(model, (0, 0, 0))
    assert all(b is m for b, m in zip(first, model[1].buffers(), strict=True))
    assert backup.buffers(model, (0, 0, 0)) is first  # same moments, same tree: kept
    assert backup.buffers(model, (0, 0, 1)) is not first  # a pause: walked again
    kept = backup.buffers(model, (0, 0, 1))
    generation = tree_generation()
    model.append(nn.BatchNorm1d(4))
    assert tree_generation() != generation
    grown = backup.buffers(model, (0, 0, 1))
    assert grown is not kept and len(grown) == 2 * len(kept)
    model[2].running_mean = torch.ones(4)  # a buffer set anew: also seen
    assert backup.buffers(model, (0, 0, 1))[3] is model[2].running_mean
