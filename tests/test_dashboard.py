"""Dashboard without a browser: controls steer the run, refusals are shown, traffic is bounded."""

from __future__ import annotations

import time

import pytest
import torch
from helpers import make_loader, wait_until
from torch import nn

import nbviz
from nbviz.devtools import CommRecorder
from nbviz.models import SmallCNN


@pytest.fixture
def session():
    torch.manual_seed(0)
    s = nbviz.TrainingSession(SmallCNN(width=4), make_loader(), make_loader(64), epochs=50)
    yield s
    s.stop()


def test_bad_arguments_are_refused_with_what_to_do(session):
    with pytest.raises(TypeError, match="TrainingSession or nbviz.watch"):
        nbviz.Dashboard(object())
    with pytest.raises(ValueError, match="unknown tab.*available"):
        nbviz.Dashboard(session, tabs=["Nope"])
    board = nbviz.Dashboard(session, tabs=[])
    with pytest.raises(ValueError, match="no tab 'Weights'"):
        board.view("Weights")
    board.close()


def test_buttons_and_fields_steer_the_run(session):
    board = nbviz.Dashboard(session, tabs=[])
    controls = board.controls
    controls.step_count_field.value = 4
    controls.step_button.click()
    wait_until(lambda: session.state == "paused" and session.step_count == 4)
    controls.lr_field.value = 0.02
    wait_until(lambda: session.lr == pytest.approx(0.02))  # applied by the paused loop
    controls.epochs_field.value = 0  # refused: the old value comes back, the status says why
    assert session.epochs == 50 and controls.epochs_field.value == 50
    controls.refresh()
    assert "epochs must be" in controls.status.value
    controls.lr_field.value = float("nan")
    controls.refresh()
    assert session.lr == pytest.approx(0.02) and "learning rate refused" in controls.status.value
    assert controls.step_label.value == "step 4"
    controls.start_button.click()
    wait_until(lambda: session.step_count > 6)
    controls.stop_button.click()
    session.wait(timeout=60)
    assert session.state == "stopped"
    board.close()


def test_a_failure_shows_the_error_and_its_traceback():
    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, x):
            raise ValueError("shapes do not match (demo)")

    broken = nbviz.TrainingSession(nn.Sequential(Broken()), make_loader(), epochs=1)
    board = nbviz.Dashboard(broken, tabs=[])
    broken.start()
    with pytest.raises(nbviz.TrainingError):
        broken.wait(timeout=60)
    board.controls.refresh()
    assert "Training failed" in board.controls.error.value
    assert "Traceback" in board.controls.error.value
    assert "failed" in board.controls.status.value
    board.close()


def test_a_model_without_parameters_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="no trainable parameters"):
        nbviz.TrainingSession(nn.ReLU(), make_loader())


def test_curves_follow_the_history_and_an_idle_dashboard_sends_nothing(session):
    with CommRecorder() as recorder:
        board = nbviz.Dashboard(session, tabs=[])
        session.step(20)
        wait_until(lambda: session.state == "paused" and session.step_count == 20)
        board.controls.refresh()
        board.curves.refresh()
        x = board.curves.lines["train_loss"].x
        assert len(x) == 20 and x.dtype.name == "float32"
        recorder.reset()
        for _ in range(5):  # nothing changed: no trait is sent again
            board.controls.refresh()
            board.curves.refresh()
        assert recorder.updates() == []
        session.resume()
        resumed = time.monotonic()
        # the pump sends the resumed run's updates (on a loaded machine maybe only after a while)
        wait_until(lambda: recorder.updates() != [], what="a comm message after resume")
        time.sleep(max(0.0, 2.0 - (time.monotonic() - resumed)))  # a window of 2 s at least
        assert 0 < recorder.rate() <= 30
        board.close()
