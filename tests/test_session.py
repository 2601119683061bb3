"""TrainingSession: lifecycle, commands at batch boundaries, history, checkpoints, faults."""

from __future__ import annotations

import math
import threading
import time

import pytest
import torch
from helpers import make_loader, wait_until
from torch import nn

import nbviz
from nbviz.models import SmallCNN
from nbviz.session import HyperparameterError, TrainingError


class Recorder:
    """A callback recording what the training thread saw at each batch."""

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.lrs: list[float] = []

    def on_batch_end(self, run) -> None:
        self.steps.append(run.step_count)
        self.lrs.append(run.optimizer.param_groups[0]["lr"])


@pytest.fixture
def session() -> nbviz.TrainingSession:
    torch.manual_seed(0)
    s = nbviz.TrainingSession(SmallCNN(width=4), make_loader(), make_loader(64, shuffle=False),
                              epochs=3)
    yield s
    s.stop()


class Gate:
    """A callback that holds the training thread at its first batch until released."""

    def __init__(self) -> None:
        self.reached, self.release = threading.Event(), threading.Event()

    def on_batch_end(self, run) -> None:
        self.reached.set()
        assert self.release.wait(60), "the test never released the training thread"


def test_start_returns_at_once_and_wait_finishes(session):
    gate = Gate()
    session.add_callback(gate)
    session.start()  # returns while the training thread is held at its first batch
    # (a wall-clock bound here depended on how loaded the machine was; this does not)
    assert session.state == "running"
    assert gate.reached.wait(60), "training never reached its first batch"
    gate.release.set()
    session.wait(timeout=60)
    assert session.state == "finished"
    assert session.step_count == 3 * 16
    assert session.epoch == 3
    x, acc = session.history.get("val_accuracy")
    assert len(acc) == 3 and ((0 <= acc) & (acc <= 1)).all()


@pytest.mark.parametrize("n", [1, 5, 23])
def test_step_runs_exactly_n_batches_then_pauses(session, n):
    session.step(n)
    wait_until(lambda: session.state == "paused")
    time.sleep(0.2)
    assert session.step_count == n
    session.step(2)
    wait_until(lambda: session.step_count == n + 2 and session.state == "paused")
    time.sleep(0.2)
    assert session.step_count == n + 2


def thread_cpu_clock(thread: threading.Thread):
    """Seconds of CPU ``thread`` has used, read from any thread (Linux); else the process's."""
    if hasattr(time, "pthread_getcpuclockid") and thread.ident is not None:
        clock = time.pthread_getcpuclockid(thread.ident)
        return lambda: time.clock_gettime(clock)
    return time.process_time


def test_pause_blocks_without_busy_wait_and_resume_continues(session):
    session.start()
    wait_until(lambda: session.step_count >= 2)
    session.pause()
    wait_until(lambda: session.state == "paused")
    frozen = session.step_count
    cpu_time = thread_cpu_clock(session.loop_thread)
    cpu0 = cpu_time()
    time.sleep(0.5)
    assert session.step_count == frozen
    # a busy-waiting loop would burn up to 0.5 s of CPU (less on a loaded machine, yet far more
    # than this); the training thread's own clock, so other threads' work cannot fail this
    assert cpu_time() - cpu0 < 0.02
    session.resume()
    wait_until(lambda: session.step_count > frozen)


def test_stop_joins_the_thread_and_start_continues(session):
    session.start()
    wait_until(lambda: session.step_count >= 3)
    session.stop()
    assert session.state == "stopped"
    assert not any(t.name == "nbviz-training" and t.is_alive() for t in threading.enumerate())
    stopped_at = session.step_count
    session.step(1)
    wait_until(lambda: session.state == "paused")
    assert session.step_count == stopped_at + 1


def test_learning_rate_change_is_seen_at_the_next_batch(session):
    recorder = Recorder()
    session.add_callback(recorder)
    session.step(3)
    wait_until(lambda: session.state == "paused")
    session.set_hyperparameter("lr", 0.123).result(timeout=60)
    session.step(1)
    wait_until(lambda: session.step_count == 4 and session.state == "paused")
    assert recorder.lrs[:3] == [0.01] * 3
    assert recorder.lrs[3] == pytest.approx(0.123)
    events = session.history.events_of("hyperparameter")
    assert events[-1].step == 3 and events[-1].data["new"] == pytest.approx(0.123)


def test_hyperparameter_change_while_running_applies_at_a_boundary(session):
    recorder = Recorder()
    session.add_callback(recorder)
    session.start()
    wait_until(lambda: session.step_count >= 2)
    session.set_hyperparameter("momentum", 0.5).result(timeout=60)
    changed_at = session.step_count
    session.set_hyperparameter("lr", 0.02).result(timeout=60)
    lr_at = session.step_count
    session.stop()
    assert session.optimizer.param_groups[0]["momentum"] == 0.5
    assert all(lr == pytest.approx(0.02) for lr in recorder.lrs[lr_at:])
    assert all(lr == pytest.approx(0.01) for lr in recorder.lrs[:changed_at])


@pytest.mark.parametrize("bad", [0.0, -0.1, math.nan, math.inf, 1e6, "0.1", None])
def test_bad_learning_rates_are_refused_and_the_old_value_kept(session, bad):
    with pytest.raises(HyperparameterError, match="lr|number"):
        session.set_hyperparameter("lr", bad)
    assert session.lr == 0.01


def test_unsupported_hyperparameter_names_the_optimizer():
    model = SmallCNN(width=4)
    s = nbviz.TrainingSession(model, make_loader(), optimizer=torch.optim.Adagrad(model.parameters()))
    with pytest.raises(HyperparameterError, match="Adagrad has no 'momentum'"):
        s.set_hyperparameter("momentum", 0.9)
    adam_model = SmallCNN(width=4)
    adam = nbviz.TrainingSession(adam_model, make_loader(),
                                 optimizer=torch.optim.Adam(adam_model.parameters()))
    adam.set_hyperparameter("momentum", 0.8).result()
    assert adam.optimizer.param_groups[0]["betas"][0] == 0.8


def test_history_stays_bounded_after_100k_steps():
    history = nbviz.session.History(capacity=1024)
    for step in range(100_000):
        history.log(step, train_loss=1.0 / (step + 1), lr=0.1)
    x, y = history.get("train_loss")
    assert len(x) <= 1025
    assert x[0] < 100 and x[-1] > 99_000  # covers the whole run
    assert history.nbytes() < 100_000
    assert history.series["train_loss"].count == 100_000


def test_checkpoint_round_trip_continues_the_same_run(tmp_path, session):
    session.step(10)
    wait_until(lambda: session.state == "paused")
    path = tmp_path / "run.pt"
    session.save(path)
    session.stop()
    weights = {k: v.clone() for k, v in session.model.state_dict().items()}

    torch.manual_seed(123)
    restored = nbviz.TrainingSession.load(path, SmallCNN(width=4), make_loader(), epochs=3)
    assert restored.step_count == 10
    for k, v in restored.model.state_dict().items():
        assert torch.equal(v, weights[k]), k
    assert restored.optimizer.state_dict()["state"].keys() == session.optimizer.state_dict()["state"].keys()
    assert len(restored.history.get("train_loss")[0]) == 10
    restored.step(2)
    wait_until(lambda: restored.state == "paused")
    assert restored.step_count == 12
    restored.stop()


def test_interrupted_write_leaves_the_previous_checkpoint(tmp_path, session, monkeypatch):
    path = tmp_path / "run.pt"
    session.save(path)
    before = path.read_bytes()
    session.step(2)
    wait_until(lambda: session.state == "paused")

    def crash(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        session.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"]  # no temporary file left


def test_load_refuses_a_checkpoint_of_another_model(tmp_path, session):
    path = tmp_path / "run.pt"
    session.save(path)
    other = SmallCNN(width=8)
    weights = {k: v.clone() for k, v in other.state_dict().items()}
    with pytest.raises((ValueError, RuntimeError)):
        nbviz.TrainingSession.load(path, other, make_loader())
    for k, v in other.state_dict().items():
        assert torch.equal(v, weights[k])
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        session.restore(tmp_path / "missing.pt")


class Flaky(nn.Module):
    """Fails on its 4th forward pass in training mode until fixed."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))
        self.calls = 0
        self.broken = True

    def forward(self, x):
        if self.training:
            self.calls += 1
            if self.broken and self.calls == 4:
                raise ValueError("boom in forward")
        return self.net(x)


def test_error_in_the_training_thread_is_kept_and_reraised_and_restart_works():
    model = Flaky()
    s = nbviz.TrainingSession(model, make_loader(), epochs=1)
    s.start()
    with pytest.raises(TrainingError, match="boom in forward") as info:
        s.wait(timeout=60)
    assert isinstance(info.value.__cause__, ValueError)  # the original error
    assert s.state == "failed" and s.step_count == 3
    assert "boom in forward" in s.error_traceback
    assert len(s.history.get("train_loss")[0]) == 3  # history survives
    model.broken = False
    s.start()
    s.wait(timeout=60)
    assert s.state == "finished" and s.step_count > 3


def test_forward_failure_names_the_submodule_and_its_input_shape():
    class WrongFlatten(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 64, 3, stride=2), nn.ReLU(),
                                          nn.Conv2d(64, 64, 3, stride=2))
            self.fc = nn.Linear(64 * 7 * 7, 10)

        def forward(self, x):
            return self.fc(self.features(x).flatten(1))

    model = WrongFlatten()
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    s = nbviz.TrainingSession(model, make_loader(), epochs=1)
    s.start()
    with pytest.raises(TrainingError) as info:
        s.wait(timeout=60)
    text = str(info.value)
    assert "64×6×6 = 2304 features reach fc, which expects 3136 = 64×7×7" in text
    assert "nn.Linear(64*6*6, 10)" in text and "test_session.py" in text  # the fix, and where
    assert "Sequential(" not in text  # one short message, not the model's repr
    for k, v in model.state_dict().items():
        assert torch.equal(v, weights[k])


def test_non_finite_loss_pauses_and_says_where():
    torch.manual_seed(0)
    s = nbviz.TrainingSession(SmallCNN(width=4), make_loader(), epochs=1,
                              loss_fn=lambda out, y: nn.functional.cross_entropy(out, y) * (
                                  math.nan if calls.append(1) or len(calls) == 5 else 1.0))
    calls: list[int] = []
    s.start()
    wait_until(lambda: s.state == "paused")
    assert s.step_count == 4
    assert "loss became nan at step 5" in s.status_message
    assert s.history.events_of("non_finite_loss")
    assert all(torch.isfinite(p).all() for p in s.model.parameters())
    s.resume()
    s.wait(timeout=60)
    assert s.state == "finished"


@pytest.mark.parametrize("batch, message", [
    (torch.zeros(4, 3), "the batch is a Tensor"),
    ((torch.zeros(4, 3),), "length 1"),
    ({"x": torch.zeros(4, 3), "y": torch.zeros(4)}, "input_key"),
    ((torch.zeros(4, 3), [1, 2, 3, 4]), "targets are a list"),
])
def test_batches_that_are_not_inputs_and_targets_get_a_clear_error(batch, message):
    s = nbviz.TrainingSession(nn.Linear(3, 2), [batch], epochs=1)
    s.start()
    with pytest.raises(TrainingError, match=message):
        s.wait(timeout=60)


def test_dict_batches_with_configured_keys():
    data = [{"image": torch.rand(8, 3), "label": torch.randint(0, 2, (8,))} for _ in range(4)]
    s = nbviz.TrainingSession(nn.Linear(3, 2), data, epochs=2, input_key="image", target_key="label")
    s.start()
    s.wait(timeout=60)
    assert s.step_count == 8


@pytest.mark.parametrize("kwargs, message", [
    ({"model": "not a model"}, "model must be a torch.nn.Module"),
    ({"train_loader": torch.zeros(3)}, "train_loader must be an iterable"),
    ({"epochs": 0}, "epochs must be"),
    ({"loss_fn": 3}, "loss_fn must be callable"),
    ({"optimizer": "sgd"}, "optimizer must be a torch.optim.Optimizer"),
])
def test_bad_constructor_arguments(kwargs, message):
    args = {"model": nn.Linear(3, 2), "train_loader": make_loader(), **kwargs}
    with pytest.raises((TypeError, ValueError), match=message):
        nbviz.TrainingSession(**args)


def test_reset_restores_initial_weights_and_clears_history(session):
    initial = {k: v.clone() for k, v in session.model.state_dict().items()}
    session.step(4)
    wait_until(lambda: session.state == "paused")
    session.reset()
    assert session.step_count == 0 and session.state == "idle"
    assert session.history.get("train_loss")[0].size == 0
    for k, v in session.model.state_dict().items():
        assert torch.equal(v, initial[k])


def test_a_failing_view_callback_is_detached_and_training_goes_on(session):
    class Broken:
        def on_batch_end(self, run):
            raise ZeroDivisionError("view bug")

    session.add_callback(Broken())
    session.step(3)
    wait_until(lambda: session.state == "paused")
    assert session.step_count == 3
    assert "view bug" in session.history.events_of("view_error")[0].description


def test_start_after_the_last_epoch_says_how_to_go_on(session):
    session.epochs = 1
    session.start()
    session.wait(timeout=60)
    with pytest.raises(RuntimeError, match="set session.epochs higher"):
        session.start()
