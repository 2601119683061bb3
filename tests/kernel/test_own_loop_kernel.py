"""A real kernel: a loop written in a cell (main shell busy) obeys the dashboard at its next batch.

The front end's clicks come on a subshell (JupyterLab >= 4.4) or on the main shell (front ends
without subshells: handled by the message pump at each checkpoint).
"""

from __future__ import annotations

import time

import pytest
from driver import KernelDriver

pytestmark = pytest.mark.kernel

SETUP = """
import threading, time, torch, nbviz
from torch import nn
torch.set_num_threads(1)
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
data = [(torch.randn(16, 8), torch.randint(0, 2, (16,))) for _ in range(20)]
viz = nbviz.watch(model, opt)
board = viz.dashboard()
display(board)
c = board.controls
ids = {n: getattr(c, n).model_id for n in ("start_button", "pause_button", "step_button",
                                            "stop_button", "lr_field")}
seen = []      # (step, lr, thread) at each batch, as the loop saw them
epochs_run = []
"""

LOOP = """
for epoch in viz.epoch_range(1000):
    epochs_run.append(epoch)
    for x, y in viz.batches(data):
        seen.append((viz.step_count, opt.param_groups[0]["lr"], threading.current_thread().name))
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(); loss.backward(); opt.step()
        viz.log(loss=loss.item())
        time.sleep(0.02)
print("loop ended", viz.state, viz.steering)
"""


@pytest.fixture
def kernel():
    driver = KernelDriver()
    driver.execute(SETUP, timeout=120)
    yield driver
    driver.close()


def drive_loop_in_a_cell(kernel, clicks_on, observer):
    """Run LOOP on the main shell; send clicks on ``clicks_on`` (a subshell id or None);
    read the kernel's state from ``observer`` (a subshell, since the main shell is busy)."""
    ids = kernel.eval_json("ids")
    cell = kernel.execute_async(LOOP)
    kernel.poll("len(seen)", lambda n: n >= 5, observer)

    kernel.click(ids["pause_button"], clicks_on)
    paused = kernel.poll("[viz.state, viz.step_count]", lambda v: v[0] == "paused", observer)
    frozen = paused[1]
    time.sleep(0.6)
    assert kernel.eval_json("[viz.state, viz.step_count, len(seen)]", observer) == \
        ["paused", frozen, frozen]  # the loop did not start another batch

    kernel.click(ids["step_button"], clicks_on)  # exactly one batch, then paused again
    kernel.poll("[viz.step_count, viz.state]", lambda v: v == [frozen + 1, "paused"], observer)

    kernel.set_value(ids["lr_field"], 0.0123, clicks_on)
    time.sleep(0.4)  # applied at the next batch: the loop is paused, so not yet seen by a batch
    kernel.click(ids["start_button"], clicks_on)  # resume
    kernel.poll("len(seen)", lambda n: n >= frozen + 6, observer)
    lrs = kernel.eval_json("[lr for _, lr, _ in seen]", observer)
    assert lrs[frozen + 1] == pytest.approx(0.0123), "the batch right after the change saw the new lr"
    assert all(lr == pytest.approx(0.1) for lr in lrs[:frozen + 1])

    kernel.click(ids["stop_button"], clicks_on)
    out = kernel.wait_output(cell, timeout=60)
    assert "loop ended stopped" in out  # Stop ended the batches AND the outer epoch loop
    result = kernel.eval_json(
        "[viz.state, len(seen), viz.step_count, len(epochs_run), "
        "sorted({t for _, _, t in seen}), [e.kind for e in viz.history.events]]")
    state, n_seen, steps, n_epochs, threads, events = result
    assert state == "stopped" and n_seen == steps and n_epochs == steps // 20 + 1
    assert threads == ["MainThread"]
    assert "hyperparameter" in events and "stop" in events
    return out


def test_clicks_on_a_subshell_reach_a_loop_in_a_cell(kernel):
    subshell = kernel.create_subshell()
    out = drive_loop_in_a_cell(kernel, clicks_on=subshell, observer=subshell)
    assert "kernel subshell" in out


def test_clicks_on_the_main_shell_reach_a_loop_in_a_cell_via_the_message_pump(kernel):
    observer = kernel.create_subshell()
    out = drive_loop_in_a_cell(kernel, clicks_on=None, observer=observer)
    assert "message pump at each checkpoint" in out
    # a request queued behind the cell still runs after it, in order
    first = kernel.execute_async("order = ['first']")
    second = kernel.execute_async("order.append('second'); print(order)")
    kernel.wait_output(first)
    assert kernel.wait_output(second).strip() == "['first', 'second']"


def test_requests_queued_during_the_loop_run_after_it(kernel):
    observer = kernel.create_subshell()
    ids = kernel.eval_json("ids")
    cell = kernel.execute_async(LOOP)
    kernel.poll("len(seen)", lambda n: n >= 3, observer)
    queued = kernel.execute_async("print('queued ran at step', viz.step_count, viz.state)")
    time.sleep(0.5)
    assert not kernel.finished(queued)
    kernel.click(ids["stop_button"], None)
    assert "loop ended stopped" in kernel.wait_output(cell, timeout=60)
    out = kernel.wait_output(queued, timeout=60)
    assert "queued ran at step" in out and "stopped" in out


def test_an_interrupt_while_paused_stops_and_the_next_loop_runs(kernel):
    observer = kernel.create_subshell()
    ids = kernel.eval_json("ids")
    cell = kernel.execute_async(LOOP)
    kernel.poll("len(seen)", lambda n: n >= 3, observer)
    kernel.click(ids["pause_button"], None)  # on the main shell: the pump waits for Resume
    kernel.poll("viz.state", lambda s: s == "paused", observer)
    kernel.km.interrupt_kernel()
    with pytest.raises(RuntimeError, match="KeyboardInterrupt"):
        kernel.wait_output(cell, timeout=60)
    assert kernel.eval_json("[viz.state, viz.status_message.split(' at')[0]]") == \
        ["stopped", "interrupted"]
    out = kernel.execute("n = viz.step_count\n"
                         "for x, y in viz.batches(data[:3]):\n"
                         "    viz.log(loss=nn.functional.cross_entropy(model(x), y).item())\n"
                         "print(viz.step_count - n)")
    assert out.strip() == "3"  # not paused by the interrupted loop's pause
    assert kernel.eval_json("viz.state") == "finished"  # its cell ended
