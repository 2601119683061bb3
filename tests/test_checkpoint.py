"""Checkpoint format, round trips, temp-file cleanup, periodic saving, load_weights."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from helpers import make_loader, wait_until
from torch import nn

import nbviz
from nbviz.models import SmallCNN
from nbviz.session import checkpoint
from nbviz.session.checkpoint import (
    CheckpointMismatchError,
    CheckpointWriteError,
    NotACheckpointError,
    UntrustedCheckpointError,
)


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.fixture
def session():
    torch.manual_seed(0)
    s = nbviz.TrainingSession(SmallCNN(width=4), make_loader(), epochs=2)
    s.step(3)
    wait_until(lambda: s.state == "paused")
    yield s
    s.stop()


def _plain_types(value, where="") -> list[str]:
    """Paths of values that are not tensors or primitives (should be none)."""
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return []
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _plain_types(v, f"{where}/{k}")]
    if isinstance(value, (list, tuple)):
        return [p for i, v in enumerate(value) for p in _plain_types(v, f"{where}/{i}")]
    return [f"{where}: {type(value).__name__}"]


def test_a_checkpoint_is_plain_data_that_torch_loads_with_weights_only(tmp_path, session):
    session.history.add_event(3, "note", "numpy and odd data", 0.0, value=np.float32(2.5),
                              arr=np.arange(3), obj=object())
    path = session.save(tmp_path / "run.pt")
    state = torch.load(path, weights_only=True)
    assert state["format"] == checkpoint.FORMAT
    assert _plain_types(state) == []
    assert state["model_class"] == "SmallCNN" and state["optimizer_class"] == "SGD"
    note = [e for e in state["history"]["events"] if e["kind"] == "note"][0]
    assert note["data"]["value"] == 2.5 and torch.equal(note["data"]["arr"], torch.arange(3))
    assert note["data"]["obj"].startswith("<object object")  # stored as its repr, not pickled


def test_history_survives_the_round_trip_exactly(tmp_path):
    torch.manual_seed(0)
    s = nbviz.TrainingSession(SmallCNN(width=4), make_loader(), epochs=1, history_capacity=8)
    for step in range(1, 40):  # more than the capacity: merged buckets and a partial one
        s.history.log(step, train_loss=1.0 / step, lr=0.01)
    s.history.add_event(5, "hyperparameter", "lr: 0.01 -> 0.02", 1.5, name="lr", old=0.01, new=0.02)
    path = s.save(tmp_path / "h.pt")
    other = nbviz.TrainingSession(SmallCNN(width=4), make_loader(), epochs=1, history_capacity=8)
    other.restore(path)
    for name in ("train_loss", "lr"):
        x0, y0 = s.history.get(name)
        x1, y1 = other.history.get(name)
        assert np.array_equal(x0, x1) and np.array_equal(y0, y1)
        assert other.history.series[name].count == 39
    event = other.history.events_of("hyperparameter")[0]
    assert (event.step, event.description, event.data) == (5, "lr: 0.01 -> 0.02",
                                                          {"name": "lr", "old": 0.01, "new": 0.02})
    other.history.log(40, train_loss=0.1)  # the restored history goes on
    assert other.history.series["train_loss"].count == 40


def _write_format_1(session, path) -> None:
    """A checkpoint exactly as nbviz wrote them before format 2 (numpy arrays in history)."""
    state = {"format": "nbviz-checkpoint-1", **session._capture_state(), "epochs": session.epochs,
             "history": session.history.state_dict()}
    torch.save(state, path)


def test_format_1_needs_trusted_and_is_converted_by_saving_again(tmp_path, session):
    old = tmp_path / "old.pt"
    _write_format_1(session, old)
    fresh = nbviz.TrainingSession(SmallCNN(width=4), make_loader(), epochs=2)
    before = weights(fresh.model)
    with pytest.raises(UntrustedCheckpointError, match="old format 1.*trusted=True.*save it again"):
        fresh.restore(old)
    assert_same(before, weights(fresh.model))
    with pytest.warns(UserWarning, match="runs any code"):
        fresh.restore(old, trusted=True)
    assert fresh.step_count == 3
    assert_same(weights(fresh.model), weights(session.model))
    assert np.array_equal(fresh.history.get("train_loss")[1], session.history.get("train_loss")[1])
    new = fresh.save(tmp_path / "new.pt")
    again = nbviz.TrainingSession.load(new, SmallCNN(width=4), make_loader(), epochs=2)
    assert again.step_count == 3


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_next_save_removes_only_nbviz_temp_files_of_finished_processes(tmp_path, session):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead, alive = _dead_pid(), sleeper.pid
        stale = [f".run.pt.nbviz-tmp-{dead}-0123abcd", f".other.pt.nbviz-tmp-{dead}-deadbeef",
                 f".run.pt.nbviz-tmp-{os.getpid()}-00000000"]  # ours, but no save is writing it
        kept = [f".run.pt.nbviz-tmp-{alive}-0123abcd",  # a save in another live process
                ".run.pt.abcd1234.tmp", f"run.pt.nbviz-tmp-{dead}-0123abcd",
                f".run.pt.nbviz-tmp-{dead}-0123ABCD", f".run.pt.nbviz-tmp-{dead}-0123abcd.bak",
                "notes.txt"]
        for name in stale + kept:
            (tmp_path / name).write_bytes(b"partial")
        (tmp_path / f".dir.nbviz-tmp-{dead}-0123abcd").mkdir()  # a folder: never removed
        session.save(tmp_path / "run.pt")
        names = {p.name for p in tmp_path.iterdir()}
        assert names == {*kept, "run.pt", f".dir.nbviz-tmp-{dead}-0123abcd"}
    finally:
        sleeper.kill()
        sleeper.wait()


def test_periodic_saving_every_n_steps_keeps_the_last_k(tmp_path):
    folder = tmp_path / "auto"
    folder.mkdir()
    (folder / "step-00000002.pt").write_bytes(b"someone else's")  # not written by this session
    (folder / "notes.txt").write_text("keep me")
    torch.manual_seed(0)
    s = nbviz.TrainingSession(SmallCNN(width=4), make_loader(), epochs=1, save_every=4,
                              save_to=folder, keep_last=2)
    s.start()
    s.wait(timeout=60)
    assert sorted(p.name for p in folder.iterdir()) == [
        "notes.txt", "step-00000002.pt", "step-00000012.pt", "step-00000016.pt"]
    assert s.autosave.latest == folder / "step-00000016.pt"
    assert s.autosave.last_error is None
    final = weights(s.model)
    restored = nbviz.TrainingSession.load(s.autosave.latest, SmallCNN(width=4), make_loader())
    assert restored.step_count == 16
    assert_same(weights(restored.model), final)
    assert len(s.history.events_of("checkpoint")) == 4  # steps 4, 8, 12, 16


def test_periodic_saving_by_time(tmp_path):
    def slow_loss(out, y):
        time.sleep(0.02)
        return nn.functional.cross_entropy(out, y)

    s = nbviz.TrainingSession(SmallCNN(width=4), make_loader(), epochs=1, loss_fn=slow_loss,
                              save_every=datetime.timedelta(milliseconds=100), save_to=tmp_path,
                              keep_last=None)
    s.start()
    s.wait(timeout=60)
    files = sorted(tmp_path.glob("step-*.pt"))
    assert 1 <= len(files) < 16  # some, not every step
    for f in files:
        assert checkpoint.read(f)["step"] == int(f.stem.split("-")[1])


def test_a_failing_periodic_save_is_recorded_and_training_goes_on(tmp_path):
    blocked = tmp_path / "blocked"
    s = nbviz.TrainingSession(SmallCNN(width=4), make_loader(), epochs=1, save_every=5,
                              save_to=blocked / "ck")
    blocked.write_text("a file where the folder should be")
    s.start()
    s.wait(timeout=60)
    assert s.state == "finished" and s.step_count == 16
    errors = s.history.events_of("checkpoint_error")
    assert [e.step for e in errors] == [5, 10, 15]
    assert "periodic save at step 5 failed, training goes on" in errors[0].description
    assert "ENOTDIR" in errors[0].description and str(blocked / "ck") in errors[0].description
    assert s.autosave.last_error == errors[-1].description
    assert len(s.history.get("train_loss")[0]) == 16


@pytest.mark.parametrize("kwargs, message", [
    ({"save_every": 0, "save_to": "x"}, "save_every must be a whole number"),
    ({"save_every": "10min", "save_to": "x"}, "timedelta"),
    ({"save_every": True, "save_to": "x"}, "save_every must be"),
    ({"save_every": datetime.timedelta(0), "save_to": "x"}, "positive interval"),
    ({"save_every": 10}, "needs save_to="),
    ({"save_every": 10, "save_to": "x", "keep_last": 0}, "keep_last must be"),
])
def test_bad_periodic_saving_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nbviz.TrainingSession(nn.Linear(3, 2), make_loader(), **kwargs)


def test_load_weights_takes_a_plain_state_dict_or_another_tools_checkpoint(tmp_path, session):
    source = SmallCNN(width=4)
    torch.save(source.state_dict(), tmp_path / "plain.pt")
    torch.save({"epoch": 7, "model_state_dict": source.state_dict()}, tmp_path / "tutorial.pt")
    assert session.optimizer.state  # momentum buffers from the 3 steps
    session.stop()
    for name in ("plain.pt", "tutorial.pt"):
        with pytest.raises(NotACheckpointError, match=r"session.load_weights\(path\)"):
            session.restore(tmp_path / name)
        session.load_weights(tmp_path / name)
        assert_same(weights(session.model), weights(source))
        assert not session.optimizer.state
    assert session.step_count == 3  # the run's counters and history go on
    nbviz_file = session.save(tmp_path / "run.pt")
    other = SmallCNN(width=4)
    nbviz.TrainingSession(other, make_loader()).load_weights(nbviz_file)
    assert_same(weights(other), weights(source))
    wide = SmallCNN(width=8)
    before = weights(wide)
    with pytest.raises(CheckpointMismatchError, match="shapes differ for features.0.0.weight"):
        nbviz.TrainingSession(wide, make_loader()).load_weights(tmp_path / "plain.pt")
    assert_same(weights(wide), before)


@pytest.mark.parametrize("error_number, phrase", [
    (28, "no space left on the device (ENOSPC); free some space"),
    (122, "disk quota is exceeded (EDQUOT)"),
    (27, "file-size limit) (EFBIG)"),
    (13, "permission denied (EACCES); save to a folder you can write to"),
    (30, "the file system is read-only (EROFS); save to a folder on a writable disk"),
    (5, "input/output error"),
])
def test_each_os_cause_gets_its_own_sentence(tmp_path, session, monkeypatch, error_number, phrase):
    path = tmp_path / "run.pt"
    session.save(path)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError(error_number, os.strerror(error_number))

    monkeypatch.setattr(checkpoint.os, "fsync", fail)
    with pytest.raises(CheckpointWriteError) as info:
        session.save(path)
    assert str(info.value).startswith(f"Could not save the checkpoint {path}: ")
    assert phrase in str(info.value) and "Nothing was lost" in str(info.value)
    assert info.value.errno == error_number and isinstance(info.value, OSError)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]


def _one_step(model: nn.Module, optimizer: torch.optim.Optimizer, x, y) -> None:
    torch.manual_seed(1)  # the same dropout masks for both
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()


@pytest.mark.parametrize("make", ["resnet18", "mobilenet_v3_small"])
def test_torchvision_models_with_adam_continue_bit_identically(tmp_path, make):
    import torchvision

    torch.manual_seed(0)
    build = getattr(torchvision.models, make)
    model = build(weights=None, num_classes=5)
    data = [(torch.randn(4, 3, 64, 64), torch.randint(0, 5, (4,))) for _ in range(2)]
    s = nbviz.TrainingSession(model, data, epochs=1,
                              optimizer=torch.optim.Adam(model.parameters(), lr=1e-3))
    s.start()
    s.wait(timeout=120)
    path = s.save(tmp_path / f"{make}.pt")
    assert _plain_types(torch.load(path, weights_only=True)) == []
    copy = build(weights=None, num_classes=5)
    restored = nbviz.TrainingSession.load(path, copy, data, epochs=1,
                                          optimizer=torch.optim.Adam(copy.parameters(), lr=1e-3))
    assert_same(weights(copy), weights(model))  # BatchNorm running stats included
    x, y = torch.randn(4, 3, 64, 64), torch.randint(0, 5, (4,))
    _one_step(model, s.optimizer, x, y)
    _one_step(copy, restored.optimizer, x, y)
    assert_same(weights(copy), weights(model))


def test_saving_while_training_runs_writes_the_state_of_one_batch_boundary(tmp_path):
    by_step: dict[int, dict[str, torch.Tensor]] = {}

    class Record:
        def on_batch_end(self, run) -> None:
            by_step[run.step_count] = weights(run.model)

    torch.manual_seed(0)
    s = nbviz.TrainingSession(SmallCNN(width=4), make_loader(), epochs=3)
    s.add_callback(Record())
    s.start()
    paths = []
    for i in range(3):
        wait_until(lambda n=4 * (i + 1): s.step_count >= n)
        paths.append(s.save(tmp_path / f"live-{i}.pt"))
    s.wait(timeout=60)
    for path in paths:
        state = checkpoint.read(path)
        assert state["step"] > 0
        assert_same(dict(state["model"]), by_step[state["step"]])  # weights of exactly that step
        assert len(state["history"]["series"]["train_loss"]["x"]) == state["step"]


def test_module_versions_of_the_state_dict_are_kept(tmp_path, session):
    state = torch.load(session.save(tmp_path / "run.pt"), weights_only=True)
    assert state["model"]._metadata == session.model.state_dict()._metadata


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_checkpoint_saved_on_cuda_restores_on_the_cpu_and_back(tmp_path):
    torch.manual_seed(0)
    gpu = nbviz.TrainingSession(SmallCNN(width=4).cuda(), make_loader(), epochs=1)
    gpu.step(2)
    wait_until(lambda: gpu.state == "paused")
    gpu.stop()
    path = gpu.save(tmp_path / "gpu.pt")
    cpu = nbviz.TrainingSession.load(path, SmallCNN(width=4), make_loader())
    assert all(v.device.type == "cpu" for v in cpu.model.state_dict().values())
    assert_same(weights(cpu.model), {k: v.cpu() for k, v in weights(gpu.model).items()})
    cpu.step(1)  # the optimizer state came along, on the CPU
    wait_until(lambda: cpu.state == "paused")
    cpu.stop()
    back = nbviz.TrainingSession.load(cpu.save(tmp_path / "cpu.pt"), SmallCNN(width=4).cuda(),
                                      make_loader())
    assert back.step_count == 3 and next(back.model.parameters()).is_cuda
