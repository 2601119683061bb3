"""TrainingSession with models users bring: dict/tuple outputs, and a NaN input batch."""

from __future__ import annotations

import pytest
import torch
from helpers import make_loader, wait_until
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import nbviz
from nbviz.models import SmallCNN


class DictCNN(SmallCNN):
    def forward(self, x):
        logits = super().forward(x)
        return {"logits": logits, "aux": logits.detach()}


class TupleCNN(SmallCNN):
    def forward(self, x):
        logits = super().forward(x)
        return logits, logits * 0.5  # googlenet-style (main, aux)


@pytest.mark.parametrize("model, loss_fn", [
    (DictCNN(width=4), lambda out, y: nn.functional.cross_entropy(out["logits"], y)),
    (TupleCNN(width=4), lambda out, y: nn.functional.cross_entropy(out[0], y)),
])
def test_dict_and_tuple_outputs_train_with_a_matching_loss(model, loss_fn):
    s = nbviz.TrainingSession(model, make_loader(64), make_loader(32, shuffle=False),
                              loss_fn=loss_fn, epochs=1)
    s.start()
    s.wait(timeout=60)
    assert s.state == "finished" and s.error is None
    assert s.step_count == 4


def test_dict_output_without_loss_fn_says_what_to_pass_before_any_step():
    torch.manual_seed(0)
    model = DictCNN(width=4)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    s = nbviz.TrainingSession(model, make_loader(64), epochs=1)
    s.start()
    with pytest.raises(nbviz.TrainingError) as info:
        s.wait(timeout=60)
    text = str(info.value.__cause__ or info.value)
    assert "returns a dict with keys ['logits', 'aux']" in text
    assert "loss_fn=lambda out, y: nn.functional.cross_entropy(out['logits'], y)" in text
    assert s.step_count == 0
    for k, v in model.state_dict().items():
        assert torch.equal(v, weights[k]), k


def test_nan_batch_leaves_batchnorm_statistics_intact():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (64,), generator=g)
    x[32:48] = float("nan")  # the third batch of 16 is corrupt
    s = nbviz.TrainingSession(SmallCNN(width=4), DataLoader(TensorDataset(x, y), batch_size=16),
                              epochs=1)
    stats_after: dict[int, dict[str, torch.Tensor]] = {}

    class Recorder:
        def on_batch_end(self, run):
            stats_after[run.step_count] = {k: v.clone() for k, v in run.model.state_dict().items()
                                           if "running" in k}

    s.add_callback(Recorder())
    s.start()
    wait_until(lambda: s.state == "paused", 60)
    assert s.step_count == 2 and "loss became nan" in s.status_message
    for name, value in s.model.state_dict().items():
        if "running" in name:
            assert torch.isfinite(value).all(), name
            assert torch.equal(value, stats_after[2][name]), name
    s.resume()
    s.wait(timeout=60)
    assert all(torch.isfinite(v).all() for k, v in s.model.state_dict().items() if "running" in k)


def test_probe_from_the_training_loader_keeps_its_seeded_order():
    def first_epoch_targets(probe: bool) -> list[int]:
        loader = make_loader(64)
        s = nbviz.TrainingSession(SmallCNN(width=4), loader, epochs=1)  # no val_loader
        if probe:
            assert len(s.probe_batch(8)[0]) == 8
        return [int(v) for _, y in loader for v in y]  # the order the first epoch will see

    assert first_epoch_targets(True) == first_epoch_targets(False)
