"""Toggling an augmentation changes what the session's next training batches contain."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import nbviz
from nbviz.augment import (
    AugmentationError,
    AugmentedDataset,
    ImageInfo,
    PipelineHolder,
    PipelineSpec,
    attach,
    change,
    when_effective,
)


class Recorder(nn.Module):
    """A tiny classifier that keeps a copy of every training batch it sees."""

    def __init__(self, channels: int = 1, size: int = 12) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(channels * size * size, 4))
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.seen.append(x.detach().clone())
        return self.net(x)


def _data(n: int = 32, size: int = 12) -> TensorDataset:
    g = torch.Generator().manual_seed(0)
    return TensorDataset(torch.rand(n, 1, size, size, generator=g), torch.arange(n) % 4)


def _session(workers: int = 0, epochs: int = 1):
    data = _data()
    loader = DataLoader(data, batch_size=8, shuffle=False, num_workers=workers)
    model = Recorder()
    return nbviz.TrainingSession(model, loader, epochs=epochs, lr=0.01), model, data


def test_a_toggle_reaches_the_next_batch_without_workers() -> None:
    session, model, data = _session()
    holder = PipelineHolder(PipelineSpec.default(ImageInfo(1, 12, 12)))
    loader = attach(session, holder).result(timeout=60)
    assert session.train_loader is loader and isinstance(loader.dataset, AugmentedDataset)
    assert loader.batch_size == 8 and loader.sampler.__class__.__name__ == "SequentialSampler"
    session.step(2)
    _wait_paused(session, 2)
    flip = holder.spec.with_changes("hflip", True, p=1.0)
    future = change(session, holder, flip)
    session.step(1)
    assert future.result(timeout=60) == "hflip (p=1) on"
    _wait_paused(session, 3)
    session.stop()
    images = data.tensors[0]
    assert torch.equal(model.seen[1], images[8:16])                   # before: as stored
    assert torch.equal(model.seen[2], images[16:24].flip(-1))         # next batch: flipped
    events = session.history.events_of("augmentation")
    assert [(e.step, e.description) for e in events] == [(2, "hflip (p=1) on")]
    assert "next batch" in when_effective(session.train_loader)


def _wait_paused(session, step: int) -> None:
    import time
    deadline = time.monotonic() + 60  # a hang guard: a loaded machine is slow
    while not (session.state == "paused" and session.step_count == step):
        assert time.monotonic() < deadline, f"session stuck at {session.state} {session.step_count}"
        time.sleep(0.01)


def test_with_workers_a_change_applies_from_the_next_epoch() -> None:
    session, model, data = _session(workers=1, epochs=2)
    holder = PipelineHolder(PipelineSpec.default(ImageInfo(1, 12, 12)))
    attach(session, holder).result(timeout=60)
    assert "next epoch" in when_effective(session.train_loader)
    session.step(1)
    _wait_paused(session, 1)
    change(session, holder, holder.spec.with_changes("vflip", True, p=1.0))
    session.resume()
    session.wait(timeout=60)
    images = data.tensors[0]
    assert len(model.seen) == 8
    assert torch.equal(model.seen[2], images[16:24])              # same epoch: workers kept the old one
    assert torch.equal(model.seen[4], images[0:8].flip(-2))       # next epoch: flipped


def test_attach_keeps_sampler_order_and_refuses_what_it_cannot_wrap() -> None:
    data = _data()
    loader = DataLoader(data, batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(3))
    session = nbviz.TrainingSession(Recorder(), loader, epochs=1)
    holder = PipelineHolder(PipelineSpec.default(ImageInfo(1, 12, 12)))
    new = attach(session, holder).result(timeout=60)
    assert new.sampler is loader.sampler and new.generator is loader.generator
    assert attach(session, holder).result() is new  # idempotent
    plain = nbviz.TrainingSession(Recorder(), [(torch.rand(8, 1, 12, 12), torch.zeros(8, dtype=torch.long))])
    with pytest.raises(AugmentationError, match="needs session.train_loader to be a torch DataLoader"):
        attach(plain, holder)
    tabular = DataLoader(TensorDataset(torch.rand(16, 5), torch.zeros(16, dtype=torch.long)), batch_size=4)
    with pytest.raises(AugmentationError, match="applies to image tensors"):
        attach(nbviz.TrainingSession(nn.Linear(5, 2), tabular), holder)


def test_two_runs_with_the_same_seed_see_the_same_batches() -> None:
    seen = []
    for _ in range(2):
        torch.manual_seed(0)
        session, model, _ = _session()
        holder = PipelineHolder(PipelineSpec.default(ImageInfo(1, 12, 12))
                                .with_changes("rotation", True, degrees=30).with_changes("noise", True))
        attach(session, holder)
        session.start()
        session.wait(timeout=60)
        seen.append(torch.stack(model.seen))
    assert torch.equal(seen[0], seen[1])


def test_persistent_workers_get_a_fresh_loader_on_each_change() -> None:
    loader = DataLoader(_data(), batch_size=8, num_workers=1, persistent_workers=True)
    session = nbviz.TrainingSession(Recorder(), loader, epochs=1)
    holder = PipelineHolder(PipelineSpec.default(ImageInfo(1, 12, 12)))
    first = attach(session, holder).result(timeout=60)
    assert first.persistent_workers and first.num_workers == 1
    change(session, holder, holder.spec.with_changes("hflip", True)).result(timeout=60)
    second = session.train_loader
    assert second is not first and second.dataset is first.dataset and second.persistent_workers
