"""Lightning with a real Trainer on CPU: the callback changes nothing, and the dashboard steers."""

from __future__ import annotations

import time

import pytest
import torch
from helpers import pause_step_then_set_lr
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

L = pytest.importorskip("lightning.pytorch")
from nbviz.integrations.lightning import NbvizCallback, fit_in_thread  # noqa: E402
from nbviz.probes.param_stats import ParamStats  # noqa: E402


class Tiny(L.LightningModule):
    def __init__(self, scheduler: str | None = None, delay: float = 0.0) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))
        self.scheduler, self.delay = scheduler, delay
        self.seen_lr: list[float] = []

    def training_step(self, batch, _idx):
        self.seen_lr.append(self.trainer.optimizers[0].param_groups[0]["lr"])
        time.sleep(self.delay)
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)

    def validation_step(self, batch, _idx):
        x, y = batch
        self.log("val_loss", nn.functional.cross_entropy(self.net(x), y))

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)
        if self.scheduler == "step":
            sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1000, gamma=0.5)
        elif self.scheduler == "warmup":
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 50))
        else:
            return opt
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def loaders():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(256, 6, generator=g), torch.randint(0, 3, (256,), generator=g)
    return (DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=g),
            DataLoader(TensorDataset(x[:64], y[:64]), batch_size=32))


def trainer(callbacks, max_epochs=2, **kwargs):
    return L.Trainer(max_epochs=max_epochs, accelerator="cpu", devices=1, logger=False,
                     enable_progress_bar=False, enable_model_summary=False,
                     enable_checkpointing=False, callbacks=callbacks, **kwargs)


def fit(with_callback: bool) -> dict[str, torch.Tensor]:
    L.seed_everything(0, verbose=False)
    model = Tiny()
    train, val = loaders()
    callbacks = [NbvizCallback(model, probe_data=val)] if with_callback else []
    if with_callback:  # the weights/gradients views' recorder, attached before fit as a tab does
        stats = ParamStats(model, every=1).attach(callbacks[0].viz)
    trainer(callbacks).fit(model, train, val)
    if with_callback:
        assert len(stats) == 32 and stats.latest().params["net.0.weight"].update_ratio > 0
        viz = callbacks[0].viz
        assert viz.state == "finished" and viz.epoch == 2 and viz.step_count == 32
        assert len(viz.history.get("train_loss")[0]) == 32 and viz.history.last("val_loss")
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_weights_are_bit_identical_with_and_without_the_callback():
    plain, watched = fit(False), fit(True)
    assert all(torch.equal(plain[k], watched[k]) for k in plain)


@pytest.mark.parametrize("scheduler", ["step", "warmup"])
def test_pause_step_lr_and_stop_through_the_callback(scheduler, tmp_path):
    L.seed_everything(0, verbose=False)
    model = Tiny(scheduler=scheduler, delay=0.01)
    train, val = loaders()
    cb = NbvizCallback(model)
    saver = L.callbacks.ModelCheckpoint(dirpath=tmp_path, save_last=True)
    t = L.Trainer(max_epochs=50, accelerator="cpu", devices=1, logger=False,
                  enable_progress_bar=False, enable_model_summary=False, callbacks=[cb, saver])
    viz = fit_in_thread(cb, t, model, train, val)
    assert viz.steering == "training thread"
    frozen = pause_step_then_set_lr(viz, model.seen_lr, 0.0123)
    lrs = model.seen_lr[frozen + 1:frozen + 8]
    if scheduler == "step":  # StepLR keeps the new lr exactly
        assert lrs == pytest.approx([0.0123] * len(lrs))
    else:  # warmup goes on from the new lr (same shape), it does not jump back to the old one
        k = frozen + 2  # the warmup factor's numerator at the batch that saw the change
        assert lrs == pytest.approx([0.0123 * (k + i) / k for i in range(len(lrs))])
    events = [e for e in viz.history.events if e.kind == "hyperparameter"]
    assert events and events[-1].data["new"] == 0.0123
    viz.stop()
    viz.wait(timeout=60)
    assert viz.state == "stopped" and t.should_stop and viz.epoch < 50
    assert (tmp_path / "last.ckpt").exists(), "checkpoint hooks ran when Stop ended the run"


def test_one_callback_attached_to_two_trainers_is_refused():
    L.seed_everything(0, verbose=False)
    model = Tiny()
    train, val = loaders()
    cb = NbvizCallback(model)
    trainer([cb], max_epochs=1).fit(model, train, val)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(RuntimeError, match="one NbvizCallback per Trainer"):
        trainer([cb], max_epochs=1).fit(model, train, val)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_callback_for_another_model_is_refused():
    train, val = loaders()
    with pytest.raises(RuntimeError, match="watches another model"):
        trainer([NbvizCallback(Tiny())], max_epochs=1).fit(Tiny(), train, val)
