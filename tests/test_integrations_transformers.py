"""Hugging Face Trainer on CPU with a tiny model: the callback changes nothing, and it steers."""

from __future__ import annotations

import time

import pytest
import torch
from helpers import pause_step_then_set_lr
from torch import nn

transformers = pytest.importorskip("transformers")
from transformers import Trainer, TrainingArguments  # noqa: E402

from nbviz.integrations.transformers import NbvizCallback, train_in_thread  # noqa: E402
from nbviz.probes.param_stats import ParamStats  # noqa: E402


class Tiny(nn.Module):
    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))
        self.delay = delay
        self.seen_lr: list[float] = []
        self.optimizer = None

    def forward(self, x, labels=None):
        if self.training and self.optimizer is not None:
            self.seen_lr.append(self.optimizer.param_groups[0]["lr"])
        time.sleep(self.delay)
        logits = self.net(x)
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return {"loss": loss, "logits": logits}


class Data(torch.utils.data.Dataset):
    def __init__(self, n: int) -> None:
        g = torch.Generator().manual_seed(1)
        self.x, self.y = torch.randn(n, 6, generator=g), torch.randint(0, 3, (n,), generator=g)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return {"x": self.x[i], "labels": self.y[i]}


def args(tmp_path, **kwargs):
    base = dict(output_dir=str(tmp_path), per_device_train_batch_size=16, num_train_epochs=2,
                use_cpu=True, report_to=[], logging_steps=1, save_strategy="no", seed=0,
                data_seed=0, dataloader_num_workers=0, disable_tqdm=True, eval_strategy="epoch",
                per_device_eval_batch_size=32, learning_rate=0.05)
    base.update(kwargs)
    return TrainingArguments(**base)


def train(tmp_path, with_callback: bool):
    transformers.set_seed(0)
    model = Tiny()
    cbs = [NbvizCallback(model)] if with_callback else []
    if with_callback:  # the weights/gradients views' recorder, attached before training
        stats = ParamStats(model, every=1).attach(cbs[0].viz)
    trainer = Trainer(model=model, args=args(tmp_path), train_dataset=Data(256),
                      eval_dataset=Data(64), callbacks=cbs)
    trainer.train()
    if with_callback:
        assert len(stats) == 32 and stats.latest().params["net.0.weight"].update_ratio > 0
        viz = cbs[0].viz
        assert viz.state == "finished" and viz.epoch == 2 and viz.step_count == 32
        assert len(viz.history.get("train_loss")[0]) == 32 and viz.history.last("val_loss")
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_weights_are_bit_identical_with_and_without_the_callback(tmp_path):
    plain, watched = train(tmp_path / "a", False), train(tmp_path / "b", True)
    assert all(torch.equal(plain[k], watched[k]) for k in plain)


def test_pause_step_lr_and_stop_through_the_callback_with_linear_warmup(tmp_path):
    transformers.set_seed(0)
    model = Tiny(delay=0.01)
    cb = NbvizCallback(model)
    trainer = Trainer(model=model, args=args(tmp_path, num_train_epochs=50, warmup_steps=400,
                                              lr_scheduler_type="linear", save_strategy="epoch"),
                      train_dataset=Data(256), eval_dataset=Data(64), callbacks=[cb])
    trainer.create_optimizer()
    model.optimizer = trainer.optimizer
    viz = train_in_thread(cb, trainer)
    frozen = pause_step_then_set_lr(viz, model.seen_lr, 0.0123)
    lrs = model.seen_lr[frozen + 1:frozen + 8]
    # linear warmup goes on from the new lr (same shape); it does not jump back to the old one
    k = frozen + 1  # warmup factor's numerator at the step that saw the change
    assert lrs == pytest.approx([0.0123 * (k + i) / k for i in range(len(lrs))])
    assert [e.data["new"] for e in viz.history.events if e.kind == "hyperparameter"] == [0.0123]
    viz.stop()
    viz.wait(timeout=60)
    assert viz.state == "stopped" and viz.epoch < 50
    assert list(tmp_path.glob("checkpoint-*")), "Stop saved a checkpoint (save_strategy=epoch)"


def test_one_callback_given_to_two_trainers_is_refused(tmp_path):
    model = Tiny()
    cb = NbvizCallback(model)
    Trainer(model=model, args=args(tmp_path, eval_strategy="no"), train_dataset=Data(32), callbacks=[cb])
    with pytest.raises(RuntimeError, match="one NbvizCallback per Trainer"):
        Trainer(model=model, args=args(tmp_path, eval_strategy="no"), train_dataset=Data(32), callbacks=[cb])
    with pytest.raises(RuntimeError, match="watches another model"):
        Trainer(model=Tiny(), args=args(tmp_path, eval_strategy="no"), train_dataset=Data(32),
                callbacks=[NbvizCallback(model)])
