"""nbviz.watch(): the plain-loop API honours Pause/Step/Stop and feeds the history."""

from __future__ import annotations

import time

import pytest
import torch
from helpers import make_loader, wait_until
from torch import nn

import nbviz
from nbviz.models import SmallCNN
from nbviz.session import TrainingError


def make_watch():
    torch.manual_seed(0)
    model = SmallCNN(width=4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    return model, optimizer, nbviz.watch(model, optimizer, probe_data=make_loader(32))


def train(viz, model, optimizer, loader, epochs=1):
    for _ in range(epochs):
        for x, y in viz.batches(loader):
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            viz.log(loss=loss.item())


def test_log_feeds_history_and_batches_counts_epochs():
    model, optimizer, viz = make_watch()
    train(viz, model, optimizer, make_loader(64), epochs=2)
    assert viz.step_count == 8 and viz.epoch == 2
    x, y = viz.history.get("train_loss")
    assert list(x) == list(range(1, 9))
    assert viz.history.last("lr") == 0.05


def test_pause_step_and_stop_from_the_dashboard_reach_a_threaded_loop():
    model, optimizer, viz = make_watch()
    board = viz.dashboard()
    viz.pause()
    # epochs enough that the loop cannot end on its own before Stop, however the threads are
    # scheduled (3 epochs = 48 steps could all run between two polls on a loaded machine)
    viz.run_in_thread(train, viz, model, optimizer, make_loader(), 1000)
    wait_until(lambda: viz.state == "paused")
    assert viz.step_count == 0
    board.controls.step_count_field.value = 3
    board.controls.step_button.click()
    wait_until(lambda: viz.step_count == 3 and viz.state == "paused")
    board.controls.lr_field.value = 0.02
    board.controls.start_button.click()  # resume
    wait_until(lambda: viz.step_count >= 6)
    assert optimizer.param_groups[0]["lr"] == 0.02
    board.controls.stop_button.click()
    viz.wait(timeout=60)
    assert viz.state == "stopped" and viz.step_count < 1000 * 16
    board.close()


def test_a_failing_loop_is_reported_and_reraised():
    model, optimizer, viz = make_watch()

    def broken():
        for step, _ in enumerate(viz.batches(make_loader())):
            viz.log(loss=1.0)
            if step == 2:
                raise KeyError("my bug")

    viz.run_in_thread(broken)
    with pytest.raises(TrainingError, match="my bug"):
        viz.wait(timeout=60)
    assert viz.state == "failed" and viz.step_count == 3


@pytest.mark.parametrize("call, message", [
    (lambda v: v.log(loss="high"), "must be a number"),
    (lambda v: v.log(step=-1, loss=1.0), "step must be"),
    (lambda v: v.run_in_thread(42), "loop must be a function"),
])
def test_bad_input_to_watch(call, message):
    _, _, viz = make_watch()
    with pytest.raises((ValueError, TypeError), match=message):
        call(viz)


def test_watch_refuses_a_non_module():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        nbviz.watch(lambda x: x)


def test_batches_counts_samples_for_the_samples_per_second_curve():
    _, _, viz = make_watch()
    for _batch in viz.batches(make_loader(256)):
        time.sleep(0.04)  # so that the rate window (0.5 s) closes within the run
        viz.log(loss=1.0)
    _, rates = viz.history.get("samples_per_sec")
    assert len(rates) >= 1 and (rates > 0).all()
