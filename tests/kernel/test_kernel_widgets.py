"""A real kernel: the dashboard's comm messages reach the training loop while it runs."""

from __future__ import annotations

import time

import pytest
from driver import KernelDriver

pytestmark = pytest.mark.kernel

SETUP = """
import torch, nbviz
torch.set_num_threads(1)
split = nbviz.datasets.digits()
train_loader, val_loader = split.loaders(batch_size=32)
session = nbviz.TrainingSession(nbviz.models.SmallCNN(width=8), train_loader, val_loader, epochs=100)
seen = []   # (step, lr) as the training loop saw them

class Recorder:
    def on_batch_end(self, run):
        seen.append((run.step_count, run.optimizer.param_groups[0]["lr"]))

session.add_callback(Recorder())
board = nbviz.Dashboard(session, tabs=[])
display(board)
c = board.controls
ids = {n: getattr(c, n).model_id for n in ("start_button", "pause_button", "step_button",
                                            "stop_button", "lr_field")}
session.start()
"""


@pytest.fixture(scope="module")
def kernel():
    driver = KernelDriver()
    driver.execute(SETUP, timeout=120)
    yield driver
    driver.execute("session.stop()")
    driver.close()


def exercise_controls(kernel, lr, subshell_id=None, ids_name="ids"):
    ids = kernel.eval_json(ids_name, subshell_id)
    kernel.poll("session.step_count", lambda n: n >= 2, subshell_id)

    kernel.click(ids["pause_button"], subshell_id)
    kernel.poll("session.state", lambda s: s == "paused", subshell_id)
    frozen = kernel.eval_json("session.step_count", subshell_id)
    time.sleep(0.8)
    assert kernel.eval_json("session.step_count", subshell_id) == frozen

    kernel.click(ids["step_button"], subshell_id)  # one batch, then paused again
    kernel.poll("[session.step_count, session.state]",
         lambda v: v == [frozen + 1, "paused"], subshell_id)

    kernel.set_value(ids["lr_field"], lr, subshell_id)
    kernel.poll("session.lr", lambda v: abs(v - lr) < 1e-12, subshell_id)
    kernel.set_value(ids["lr_field"], -5.0, subshell_id)  # refused: the old value stays
    time.sleep(0.5)
    assert kernel.eval_json("session.lr", subshell_id) == pytest.approx(lr)

    kernel.click(ids["start_button"], subshell_id)  # resume
    seen = kernel.poll("seen[-3:]", lambda v: v[-1][0] > frozen + 3, subshell_id)
    assert all(v == pytest.approx(lr) for _, v in seen)
    # (steps after the pause only: the kernel is shared, so an earlier test may have used lr too)
    first_new = kernel.eval_json(f"[s for s, v in seen if v == {lr} and s > {frozen}][0]", subshell_id)
    assert first_new == frozen + 2  # the batch right after the change saw it
    kernel.click(ids["pause_button"], subshell_id)
    kernel.poll("session.state", lambda s: s == "paused", subshell_id)
    kernel.execute("session.set_hyperparameter('lr', 0.01).result(); session.resume()", subshell_id)


def test_main_shell_comm_messages_reach_the_training_loop(kernel):
    exercise_controls(kernel, 0.0321)


def test_subshell_comm_messages_reach_the_loop_while_the_main_shell_is_busy(kernel):
    subshell = kernel.create_subshell()
    # ipykernel routes a widget's comm messages to the shell the widget last published from:
    # a dashboard displayed from the subshell is served there, even while the main shell is busy
    kernel.execute("board2 = nbviz.Dashboard(session, tabs=[]); display(board2); "
                   "ids2 = {n: getattr(board2.controls, n).model_id for n in ids}; "
                   "import threading; release_main = threading.Event(); main_busy = False", subshell)
    # the main shell stays busy until the test releases it (a fixed sleep there raced a slow machine)
    busy = kernel.execute_async("main_busy = True; release_main.wait(600); print('main shell done')")
    try:
        kernel.poll("main_busy", lambda v: v is True, subshell)
        exercise_controls(kernel, 0.0123, subshell, ids_name="ids2")
        assert not kernel.finished(busy), "the main shell was busy all along"
    finally:
        kernel.execute("release_main.set()", subshell)
    assert "main shell done" in kernel.wait_output(busy, timeout=60)
