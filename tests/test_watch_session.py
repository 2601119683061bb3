"""watch() is a full session: typed callbacks fire, epoch_range() obeys Stop, bad input is refused."""

from __future__ import annotations

import threading

import pytest
import torch
from torch import nn

import nbviz


def setup():
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    data = [(torch.randn(8, 4), torch.randint(0, 2, (8,))) for _ in range(5)]
    return model, opt, data


def train_step(model, opt, x, y):
    loss = nn.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss


class Recorder(nbviz.Callback):
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def on_train_start(self, run):
        self.calls.append(("start", run.step_count))

    def on_after_backward(self, run):
        assert all(p.grad is not None for p in run.model.parameters())
        self.calls.append(("backward", run.step_count))

    def on_batch_end(self, run):
        self.calls.append(("batch", run.step_count))

    def on_epoch_end(self, run):
        self.calls.append(("epoch", run.epoch))

    def on_train_end(self, run):
        self.calls.append(("end", run.step_count))


def test_callbacks_fire_in_order_for_an_own_loop():
    model, opt, data = setup()
    viz = nbviz.watch(model, opt)
    rec = Recorder()
    viz.add_callback(rec)
    for _ in viz.epoch_range(2):
        for x, y in viz.batches(data):
            viz.log(loss=train_step(model, opt, x, y))
    kinds = [k for k, _ in rec.calls]
    assert kinds[0] == "start" and kinds[-1] == "end"
    assert kinds.count("backward") == kinds.count("batch") == 10 and kinds.count("epoch") == 2
    # on_batch_end fires right after optimizer.step(), before this batch's log() counts it
    assert [s for k, s in rec.calls if k == "batch"] == list(range(10))
    assert ("epoch", 2) in rec.calls and ("end", 10) in rec.calls
    assert viz.state == "finished" and viz.epoch == 2 and viz.epochs == 2 and viz.steps_per_epoch == 5
    viz.remove_callback(rec)
    assert not opt._optimizer_step_pre_hooks  # no listener: no hook on the step


def test_steps_count_without_log_when_views_listen():
    model, opt, data = setup()
    viz = nbviz.watch(model, opt)
    rec = Recorder()
    viz.add_callback(rec)
    for x, y in viz.batches(data):
        train_step(model, opt, x, y)
    assert viz.step_count == 5 and [k for k, _ in rec.calls].count("batch") == 5


def test_stop_ends_the_epoch_loop_and_a_new_loop_starts_fresh():
    model, opt, data = setup()
    viz = nbviz.watch(model, opt)
    epochs_run = []
    for epoch in viz.epoch_range(10):
        epochs_run.append(epoch)
        for i, (x, y) in enumerate(viz.batches(data)):
            viz.log(loss=train_step(model, opt, x, y))
            if epoch == 1 and i == 2:
                viz.stop()  # as the Stop button does, from any thread
    assert epochs_run == [0, 1] and viz.step_count == 8 and viz.state == "stopped"
    assert any(e.kind == "stop" for e in viz.history.events)
    for _ in viz.epoch_range(1):  # the next loop is not stopped
        for x, y in viz.batches(data):
            viz.log(loss=train_step(model, opt, x, y))
    assert viz.state == "finished" and viz.step_count == 13


def test_pause_and_step_from_another_thread_hold_the_loop():
    model, opt, data = setup()
    viz = nbviz.watch(model, opt)
    viz.step(2)  # two batches, then paused
    seen = []

    def resume_later():
        while not viz.control.waiting:
            threading.Event().wait(0.01)
        seen.append(("paused at", viz.step_count))
        viz.set_hyperparameter("lr", 0.05)
        viz.resume()

    helper = threading.Thread(target=resume_later)
    helper.start()
    lrs = []
    for x, y in viz.batches(data):
        lrs.append(opt.param_groups[0]["lr"])
        viz.log(loss=train_step(model, opt, x, y))
    helper.join()
    assert seen == [("paused at", 2)] and lrs == [0.1, 0.1, 0.05, 0.05, 0.05]


def test_bad_input_is_refused_with_the_fix_named():
    model, opt, data = setup()
    viz = nbviz.watch(model, opt)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(RuntimeError, match="already running.*Iterate the inner loader"):
        for _ in viz.batches(data):
            for _ in viz.batches(data):
                pass
    viz.log(step=5, loss=1.0)
    with pytest.raises(ValueError, match="goes backwards.*Leave step out"):
        viz.log(step=3, loss=1.0)
    with pytest.raises(ValueError, match="whole number of epochs"):
        viz.epoch_range(0)
    with pytest.raises(TypeError, match="iterable of batches"):
        viz.batches(torch.zeros(3))
    with pytest.raises(TypeError, match="subclass nbviz.Callback"):
        viz.add_callback(object())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert viz.step_count == 5


def test_steering_outside_a_kernel_says_so():
    model, opt, _ = setup()
    viz = nbviz.watch(model, opt)
    assert viz.steering.startswith("not steerable: no Jupyter kernel")
    done = threading.Event()
    viz.run_in_thread(lambda: (viz.checkpoint(), done.wait(60)))
    while viz._loop_thread is None:
        threading.Event().wait(0.01)
    assert viz.steering == "training thread"
    done.set()
    viz.wait(60)
    assert viz.state == "finished"


def test_training_session_fires_train_start_and_end(digits_split):
    train, val = digits_split.loaders(batch_size=64)
    session = nbviz.TrainingSession(nbviz.models.SmallCNN(width=4), train, None, epochs=1)
    rec = Recorder()
    session.add_callback(rec)
    session.start()
    session.wait(120)
    kinds = [k for k, _ in rec.calls]
    assert kinds[0] == "start" and kinds[-1] == "end" and "epoch" in kinds
