"""What the dashboard sends while training runs: only what a user could see change."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import nbviz
import nbviz.views.curves as curves_module
from nbviz.devtools import CommRecorder
from nbviz.session.history import History
from nbviz.views.controls import ControlBar, format_duration
from nbviz.views.curves import TrainingCurves, corners


class FakeTime:
    now = 1000.0

    @classmethod
    def monotonic(cls) -> float:
        return cls.now


@pytest.fixture
def running(monkeypatch):
    """A session that reports 'running' with no thread: the test logs its steps itself."""
    monkeypatch.setattr(curves_module, "time", FakeTime)
    session = nbviz.TrainingSession(nn.Linear(4, 2), [(torch.randn(8, 4), torch.randint(0, 2, (8,)))],
                                    epochs=3)
    session._loop_alive = True
    yield session
    session._loop_alive = False


def _train(session: nbviz.TrainingSession, steps: int, lr: float = 0.01) -> None:
    start = session.step_count
    for step in range(start + 1, start + steps + 1):
        session.history.log(step, train_loss=1.0 / step, lr=lr)
    session.step_count = start + steps


def test_late_in_a_run_a_line_that_barely_grew_waits_until_it_grew_paused_or_two_seconds(running):
    with CommRecorder() as recorder:
        curves = TrainingCurves(running)
        _train(running, 20_000)
        curves.refresh()
        assert len(curves.lines["train_loss"].x) > 1000
        recorder.reset()
        _train(running, 18)  # half a second at 35 steps/s: 0.04% of a 50k step axis
        FakeTime.now += 0.5
        curves.refresh()
        assert recorder.updates() == []
        assert curves.lines["train_loss"].x[-1] < 20_000  # the held-back point is not shown yet
        FakeTime.now += 1.6  # 2.1 s since it was sent: sent now, even though it barely grew
        curves.refresh()
        assert curves.lines["train_loss"].x[-1] > 20_000
        recorder.reset()
        _train(running, 400)  # grew by 0.8% of the axis: at once
        FakeTime.now += 0.5
        curves.refresh()
        assert float(curves.lines["train_loss"].x[-1]) == pytest.approx(20_418, abs=10)
        recorder.reset()
        _train(running, 5)
        running._loop_alive = False  # paused, stopped or finished: everything goes out
        FakeTime.now += 0.5
        curves.refresh()
        assert float(curves.lines["train_loss"].x[-1]) == pytest.approx(20_423, abs=10)
        curves.close()


def test_a_new_learning_rate_is_drawn_at_once_and_lines_start_at_once(running):
    with CommRecorder() as recorder:
        curves = TrainingCurves(running)
        _train(running, 3)
        curves.refresh()
        assert len(curves.lines["train_loss"].x) == 3  # the first points of a run: at once
        _train(running, 20_000)
        FakeTime.now += 3
        curves.refresh()
        assert float(curves.lines["lr"].y[-1]) == pytest.approx(0.01)
        recorder.reset()
        _train(running, 5, lr=0.001)  # 5 steps: a sliver of the axis, but a new value
        FakeTime.now += 0.5
        curves.refresh()
        # (the history averages the last few steps into one point: the drop shows at once)
        assert float(curves.lines["lr"].y[-1]) < 0.005
        assert len(curves.lines["lr"].x) <= 4
        curves.close()


def test_the_learning_rate_goes_out_as_its_corners_drawing_the_same_line():
    history = History(capacity=64)
    for step in range(1, 301):
        history.log(step, lr=0.1 if step <= 100 else (0.01 if step <= 250 else 0.001))
    x, y = history.get("lr")
    cx, cy = corners(x, y)
    assert len(cx) <= 8 < len(x)
    assert cx[0] == x[0] and cx[-1] == x[-1]
    np.testing.assert_allclose(np.interp(x, cx, cy), y)  # every point dropped lies on the line
    cx, cy = corners(np.arange(5.0), np.full(5, 0.05))
    assert cx.tolist() == [0.0, 4.0] and cy.tolist() == [0.05, 0.05]


def test_an_unchanged_control_bar_computes_and_sends_nothing(running):
    with CommRecorder() as recorder:
        bar = ControlBar(running)
        _train(running, 10)
        bar.refresh()
        assert bar.step_label.value == "step 10"
        recorder.reset()
        bar.refresh()
        assert recorder.updates() == []
        _train(running, 1)
        bar.refresh()
        assert bar.step_label.value == "step 11" and len(recorder.updates()) >= 1
        bar.close()


@pytest.mark.parametrize(("seconds", "text"), [
    (None, "?"), (-1, "?"), (float("nan"), "?"), (0.4, "0 s"), (59.4, "59 s"), (61, "1 min"),
    (64, "1 min"), (66, "1 min 10 s"), (599, "10 min"), (754, "13 min"), (3599, "1 h 00 min"),
    (7384, "2 h 03 min"), (1e9, "years")])
def test_the_time_left_is_rounded_as_people_say_it(seconds, text):
    assert format_duration(seconds) == text


def test_events_have_their_own_version_so_views_rescan_them_only_when_they_change():
    history = History()
    version = history.events_version
    history.log(1, train_loss=1.0)
    assert history.events_version == version
    history.add_event(1, "epoch", "epoch 1 done")
    assert history.events_version == version + 1
    state = history.state_dict()
    history.clear()
    assert history.events_version == version + 2
    history.load_state_dict(state)
    assert history.events_version == version + 3 and len(history.events_of("epoch")) == 1
