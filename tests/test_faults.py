"""Fault suite: every failure gives a clear error, the session stays usable, nothing is lost.

Faults: a loss that raises at step k, a loader that raises mid-epoch, a callback that
raises, a save killed with SIGKILL (deterministically mid-write, and at random moments),
a full disk (a small tmpfs at several fill levels where mounting is allowed, and a
file-size limit in a child process everywhere), permission denied, a read-only file
system, a directory as path, a file that runs code when unpickled, truncated files and
foreign files.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import make_loader, wait_until
from torch import nn

import nbviz
from nbviz.models import SmallCNN
from nbviz.session import TrainingError, checkpoint
from nbviz.session.checkpoint import (
    TEMP_RE,
    CheckpointMismatchError,
    CheckpointReadError,
    CheckpointVersionError,
    CheckpointWriteError,
    NotACheckpointError,
    TruncatedCheckpointError,
    UntrustedCheckpointError,
)

ROOT = Path(__file__).resolve().parents[1]
CHILD_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
CHILD_PRELUDE = textwrap.dedent("""
    import os, sys, time, signal
    import torch
    torch.set_num_threads(1)
    import nbviz
    from nbviz.models import SmallCNN
    from helpers import make_loader, wait_until
    from nbviz.session.checkpoint import CheckpointWriteError
""")


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def temps(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if TEMP_RE.match(p.name)]


def make_session(**kwargs) -> nbviz.TrainingSession:
    torch.manual_seed(0)
    return nbviz.TrainingSession(SmallCNN(width=4), make_loader(), **{"epochs": 2, **kwargs})


def advance(session: nbviz.TrainingSession, n: int = 1) -> None:
    start = session.step_count
    session.step(n)
    wait_until(lambda: session.step_count == start + n and session.state == "paused")


def assert_usable(session: nbviz.TrainingSession, folder: Path) -> None:
    """The session trains on and saves, and the saved file restores."""
    advance(session)
    path = session.save(folder / f"usable-{session.step_count}.pt")
    assert checkpoint.read(path)["step"] == session.step_count


@pytest.fixture
def session():
    s = make_session()
    advance(s, 3)
    yield s
    s.stop()


class Snapshots:
    """A callback keeping the weights of the last finished batch."""

    def __init__(self) -> None:
        self.last: dict[str, torch.Tensor] | None = None

    def on_batch_end(self, run) -> None:
        self.last = weights(run.model)


def run_child(code: str, *args: str, timeout: float = 120,
              prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, sys.executable, "-c", CHILD_PRELUDE + textwrap.dedent(code), *args],
                          env=CHILD_ENV, capture_output=True, text=True, timeout=timeout)


@contextlib.contextmanager
def tmpfs(path: Path, size: str):
    """A small tmpfs at ``path``; skips the test where mounting is not allowed."""
    path.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "nbviz-test", str(path)],
                              capture_output=True, text=True)
    except FileNotFoundError:
        pytest.skip("no mount command here; the file-size-limit test covers a full disk")
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); the file-size-limit "
                    "test covers a full disk")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


# ---- faults in the training thread ----------------------------------------------------------
def test_a_loss_that_raises_at_step_k(tmp_path):
    k, broken = 6, [True]
    calls = [0]

    def loss_fn(out, y):
        calls[0] += 1
        if broken[0] and calls[0] == k:
            raise RuntimeError("loss exploded: label 11 is out of range")
        return nn.functional.cross_entropy(out, y)

    s = make_session(loss_fn=loss_fn, save_every=2, save_to=tmp_path / "auto")
    snapshots = Snapshots()
    s.add_callback(snapshots)
    s.start()
    with pytest.raises(TrainingError, match="training failed at step 5: loss exploded") as info:
        s.wait(timeout=60)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert s.state == "failed" and s.step_count == k - 1
    # the failing step changed no parameter (its forward pass did update BatchNorm statistics)
    params = dict(s.model.named_parameters())
    assert_same({k: v.detach() for k, v in params.items()},
                {k: v for k, v in snapshots.last.items() if k in params})
    assert len(s.history.get("train_loss")[0]) == k - 1
    assert "loss exploded" in s.history.events_of("error")[0].description
    latest = s.autosave.latest
    assert latest is not None and latest.name == "step-00000004.pt"
    back = nbviz.TrainingSession.load(latest, SmallCNN(width=4), make_loader())
    assert back.step_count == 4
    broken[0] = False
    s.start()
    s.wait(timeout=60)
    assert s.state == "finished" and s.step_count == k - 1 + 2 * 16


class FlakyImages(torch.utils.data.Dataset):
    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.rand(256, 1, 28, 28, generator=g)
        self.y = torch.randint(0, 10, (256,), generator=g)
        self.broken = True

    def __len__(self) -> int:
        return 256

    def __getitem__(self, i: int):
        if self.broken and i == 37:
            raise OSError("cannot read image 37: file is corrupt")
        return self.x[i], self.y[i]


def test_a_loader_that_raises_mid_epoch(tmp_path):
    data = FlakyImages()
    torch.manual_seed(0)
    s = nbviz.TrainingSession(SmallCNN(width=4), torch.utils.data.DataLoader(data, batch_size=16),
                              epochs=1)
    snapshots = Snapshots()
    s.add_callback(snapshots)
    s.start()
    with pytest.raises(TrainingError, match="cannot read image 37: file is corrupt"):
        s.wait(timeout=60)
    assert s.state == "failed" and s.step_count == 2  # batch 3 holds image 37
    assert_same(weights(s.model), snapshots.last)
    assert len(s.history.get("train_loss")[0]) == 2
    saved = s.save(tmp_path / "after-failure.pt")  # saving still works after a failure
    assert checkpoint.read(saved)["step"] == 2
    data.broken = False
    s.start()
    s.wait(timeout=60)
    assert s.state == "finished" and s.step_count == 2 + 16


def test_a_callback_that_raises_changes_nothing_of_the_run():
    class BrokenView:
        def on_batch_end(self, run) -> None:
            raise ZeroDivisionError("view bug")

    reference = make_session(epochs=1)
    reference.start()
    reference.wait(timeout=60)
    s = make_session(epochs=1)
    s.add_callback(BrokenView())
    s.start()
    s.wait(timeout=60)
    assert s.state == "finished" and s.step_count == 16
    event = s.history.events_of("view_error")[0]
    assert "BrokenView failed and was detached" in event.description and "view bug" in event.description
    assert_same(weights(s.model), weights(reference.model))  # bit-identical to a run without it
    assert np.array_equal(s.history.get("train_loss")[1], reference.history.get("train_loss")[1])


# ---- a save killed with SIGKILL -------------------------------------------------------------
KILLED_MID_WRITE = """
    path, ready = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    s = nbviz.TrainingSession(SmallCNN(width=4), make_loader(), epochs=2)
    s.step(2); wait_until(lambda: s.state == "paused")
    s.save(path)                      # the previous checkpoint, at step 2
    s.step(1); wait_until(lambda: s.step_count == 3 and s.state == "paused")
    real_save = torch.save

    def save_then_hang(obj, f, *args, **kwargs):
        class Hanging:                # writes real bytes, then hangs half way
            written = 0
            def write(self, data):
                n = f.write(data); self.written += len(data)
                if self.written > 50_000:
                    f.flush(); open(ready, "w").close(); time.sleep(600)
                return n
            def flush(self):
                f.flush()
        return real_save(obj, Hanging(), *args, **kwargs)

    torch.save = save_then_hang
    s.save(path)
"""


def test_a_save_killed_mid_write_leaves_the_previous_checkpoint_and_the_next_save_cleans_up(tmp_path):
    path, ready = tmp_path / "run.pt", tmp_path / "ready"
    child = subprocess.Popen([sys.executable, "-c", CHILD_PRELUDE + textwrap.dedent(KILLED_MID_WRITE),
                              str(path), str(ready)], env=CHILD_ENV, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: ready.exists() or child.poll() is not None, timeout=120)
        assert ready.exists(), child.stderr.read() if child.stderr else ""
        left = temps(tmp_path)
        assert len(left) == 1 and TEMP_RE.match(left[0]).group("pid") == str(child.pid)
        assert (tmp_path / left[0]).stat().st_size > 50_000  # killed with half a file written
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert checkpoint.read(path)["step"] == 2
    restored = nbviz.TrainingSession.load(path, SmallCNN(width=4), make_loader())
    assert restored.step_count == 2
    restored.save(tmp_path / "next.pt")  # the next save to that folder removes the dead temp
    assert temps(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["next.pt", "ready", "run.pt"]


SAVE_IN_A_LOOP = """
    path = sys.argv[1]
    s = nbviz.TrainingSession(nn.Linear(2000, 2000), [(torch.rand(4, 2000), torch.randint(0, 10, (4,)))])
    for step in range(1, 100_000):
        s.step_count = step
        s.save(path)
"""


def test_saves_killed_at_random_moments_always_leave_a_loadable_checkpoint(tmp_path):
    path = tmp_path / "run.pt"
    nbviz.TrainingSession(nn.Linear(2000, 2000), [(torch.rand(4, 2000), torch.zeros(4).long())]
                          ).save(path)  # the previous checkpoint, at step 0
    rng = random.Random(0)
    for _ in range(3):
        child = subprocess.Popen([sys.executable, "-c", "from torch import nn\n" + CHILD_PRELUDE
                                  + textwrap.dedent(SAVE_IN_A_LOOP), str(path)], env=CHILD_ENV)
        try:  # once a save is writing its temporary file, kill at a random moment
            wait_until(lambda c=child: bool(temps(tmp_path)) or c.poll() is not None, timeout=120)
            time.sleep(rng.uniform(0.0, 0.03))
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
        state = checkpoint.read(path)
        assert state["step"] >= 0 and state["model"]["weight"].shape == (2000, 2000)
    nbviz.TrainingSession(nn.Linear(3, 2), [(torch.rand(4, 3), torch.zeros(4).long())]
                          ).save(tmp_path / "other.pt")
    assert temps(tmp_path) == []


# ---- a full disk, no permission, read-only, a directory -------------------------------------
def test_a_full_disk_at_several_fill_levels(tmp_path, session):
    with tmpfs(tmp_path / "disk", "1m") as disk:
        path = session.save(disk / "run.pt")
        before, size = path.read_bytes(), path.stat().st_size
        for free in (0, 4096, 32768, size // 2, size - 8192):
            stats = os.statvfs(disk)
            filler = disk / "filler"
            with open(filler, "wb") as f:
                f.write(b"\0" * max(0, stats.f_bavail * stats.f_frsize - free))
            advance(session)  # the state to save differs from the file on disk
            with pytest.raises(CheckpointWriteError) as info:
                session.save(path)
            message = str(info.value)
            assert message.startswith(f"Could not save the checkpoint {path}: no space left on "
                                      "the device (ENOSPC); free some space"), message
            assert "unexpected pos" not in message and info.value.errno == 28
            assert path.read_bytes() == before and temps(disk) == []
            filler.unlink()
        step = session.step_count
        session.save(path)  # with space again, the same session saves
        assert checkpoint.read(path)["step"] == step
        assert_usable(session, tmp_path)


def test_periodic_saves_on_a_disk_that_fills_up_keep_the_earlier_ones(tmp_path):
    with tmpfs(tmp_path / "disk", "1m") as disk:
        s = make_session(epochs=2, save_every=4, save_to=disk, keep_last=None)
        s.start()
        s.wait(timeout=60)
        assert s.state == "finished" and s.step_count == 32  # training never stopped
        errors = s.history.events_of("checkpoint_error")
        saved = sorted(disk.iterdir())
        assert errors and saved and len(errors) + len(saved) == 8  # every 4 of 32 steps
        assert all("no space left on the device (ENOSPC)" in e.description for e in errors)
        assert "training goes on" in errors[0].description
        assert temps(disk) == []
        for path in saved:  # the saves that worked are intact
            assert checkpoint.read(path)["step"] == int(path.stem.split("-")[1])
        assert s.autosave.latest == saved[-1]


FILE_SIZE_LIMIT = """
    import resource
    path = sys.argv[1]
    torch.manual_seed(0)
    s = nbviz.TrainingSession(SmallCNN(width=4), make_loader(), epochs=2)
    s.step(4); wait_until(lambda: s.state == "paused")
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, 60_000))
    try:
        s.save(path)
    except CheckpointWriteError as exc:
        print("MESSAGE", exc)
    s.step(1); wait_until(lambda: s.step_count == 5 and s.state == "paused")
    print("STEPS", s.step_count)
    s.stop()
"""


def test_a_full_disk_simulated_with_a_file_size_limit(tmp_path, session):
    path = session.save(tmp_path / "run.pt")
    before = path.read_bytes()
    done = run_child(FILE_SIZE_LIMIT, str(path))
    assert done.returncode == 0, done.stderr
    message = done.stdout.split("MESSAGE ", 1)[1].splitlines()[0]
    assert message.startswith(f"Could not save the checkpoint {path}: the file is larger than "
                              "this process or file system allows (file-size limit) (EFBIG)")
    assert "STEPS 5" in done.stdout  # the session in the child trained on
    assert path.read_bytes() == before and temps(tmp_path) == []


def test_permission_denied(tmp_path, session):
    folder = Path(tempfile.mkdtemp(prefix="nbviz-locked-"))
    try:
        path = session.save(folder / "run.pt")
        before = path.read_bytes()
        os.chmod(folder, 0o555)
        if os.geteuid() == 0:  # root writes anywhere: run a child without that privilege
            if shutil.which("setpriv") is None:
                pytest.skip("running as root and no setpriv to drop CAP_DAC_OVERRIDE")
            script = """
                path = sys.argv[1]
                s = nbviz.TrainingSession(SmallCNN(width=4), make_loader(), epochs=1)
                try:
                    s.save(path)
                except CheckpointWriteError as exc:
                    print("MESSAGE", exc)
                import tempfile
                print("ELSEWHERE", s.save(os.path.join(tempfile.mkdtemp(), "run.pt")))
            """
            done = run_child(script, str(path), prefix=(
                "setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"))
            assert done.returncode == 0, done.stderr
            message = done.stdout.split("MESSAGE ", 1)[1].splitlines()[0]
            assert "ELSEWHERE" in done.stdout  # the same session saves where it may
        else:
            if os.access(folder, os.W_OK):
                pytest.skip("this user can write into a read-only folder")
            with pytest.raises(CheckpointWriteError) as info:
                session.save(path)
            message = str(info.value)
        assert message == (
            f"Could not save the checkpoint {path}: permission denied (EACCES); save to a folder "
            "you can write to, or change the permissions of that folder. Nothing was lost: the "
            "previous checkpoint there (if any) and the session are unchanged.")
        assert path.read_bytes() == before and temps(folder) == []
        assert_usable(session, tmp_path)
    finally:
        os.chmod(folder, 0o755)
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()


def test_a_read_only_file_system(tmp_path, session):
    with tmpfs(tmp_path / "disk", "4m") as disk:
        path = session.save(disk / "run.pt")
        before = path.read_bytes()
        done = subprocess.run(["mount", "-o", "remount,ro", str(disk)], capture_output=True, text=True)
        if done.returncode:
            pytest.skip(f"cannot remount read-only: {done.stderr.strip()}")
        advance(session)
        with pytest.raises(CheckpointWriteError) as info:
            session.save(path)
        assert str(info.value).startswith(
            f"Could not save the checkpoint {path}: the file system is read-only (EROFS); save "
            "to a folder on a writable disk.")
        assert path.read_bytes() == before
        assert checkpoint.read(path)["step"] == 3
        assert_usable(session, tmp_path)


def test_a_directory_as_the_path(tmp_path, session):
    with pytest.raises(CheckpointWriteError, match=r"that path is a directory \(EISDIR\); give a "
                       r"file name inside it, such as .*/run.pt"):
        session.save(tmp_path)
    session.stop()
    with pytest.raises(NotACheckpointError, match="is a folder; give the path of a checkpoint"):
        session.restore(tmp_path)
    assert_usable(session, tmp_path)


# ---- hostile, truncated and foreign files ---------------------------------------------------
class Payload:
    """Unpickling this creates ``marker``: a stand-in for any code an attacker would run."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _malicious_files(folder: Path, session) -> dict[str, Path]:
    marker = folder / "CODE-RAN"
    state = {"format": checkpoint.FORMAT, "model": session.model.state_dict(), "x": Payload(marker)}
    files = {"zip": folder / "evil.pt", "legacy": folder / "evil-legacy.pt",
             "pickle": folder / "evil.pkl"}
    torch.save(state, files["zip"])
    torch.save(state, files["legacy"], _use_new_zipfile_serialization=False)
    with open(files["pickle"], "wb") as f:
        pickle.dump(Payload(marker), f)
    return files


def test_a_checkpoint_that_runs_code_when_unpickled_runs_nothing(tmp_path, session):
    marker = tmp_path / "CODE-RAN"
    files = _malicious_files(tmp_path, session)
    session.stop()
    before, losses = weights(session.model), session.history.get("train_loss")[1]
    attempts = [
        ("restore", lambda p: session.restore(p)),
        ("load", lambda p: nbviz.TrainingSession.load(p, SmallCNN(width=4), make_loader())),
        ("load_weights", lambda p: session.load_weights(p)),
        ("read", lambda p: checkpoint.read(p)),
    ]
    for kind, path in files.items():
        for name, attempt in attempts:
            with pytest.raises(UntrustedCheckpointError) as info:
                attempt(path)
            message = str(info.value)
            assert str(path) in message and ("io.open" in message or "builtins.open" in message)
            assert "runs code from the file" in message or "run code from the file" in message
            assert "trusted=True" in message
            assert not marker.exists(), f"{name} of the {kind} file ran its code"
    assert_same(weights(session.model), before)
    assert np.array_equal(session.history.get("train_loss")[1], losses)
    assert_usable(session, tmp_path)
    # the payload is live: only an explicit trusted=True runs it, with a warning
    with pytest.warns(UserWarning, match="runs any code"), pytest.raises(CheckpointReadError):
        checkpoint.read(files["zip"], trusted=True)
    assert marker.exists()


@pytest.mark.parametrize("keep", [0, 1, 30, 1000, 0.5, -22, -1])
def test_a_truncated_checkpoint(tmp_path, session, keep):
    good = session.save(tmp_path / "good.pt")
    data = good.read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else keep if keep >= 0 else len(data) + keep
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[:n])
    session.stop()
    before = weights(session.model)
    with pytest.raises(TruncatedCheckpointError) as info:
        session.restore(cut)
    message = str(info.value)
    expected = "is empty (0 bytes)" if n == 0 else "is cut short or damaged"
    assert message.startswith(f"{cut} {expected}") and "Use an earlier checkpoint" in message
    assert_same(weights(session.model), before)
    session.restore(good)
    assert session.step_count == 3


def _foreign(folder: Path, session, kind: str) -> Path:
    path = folder / f"{kind}.pt"
    if kind == "text":
        path.write_text("epoch,loss\n1,0.5\n")
    elif kind == "state_dict":
        torch.save(session.model.state_dict(), path)
    elif kind == "tutorial":
        torch.save({"epoch": 3, "model_state_dict": session.model.state_dict(),
                    "optimizer_state_dict": session.optimizer.state_dict()}, path)
    elif kind == "tensor":
        torch.save(torch.zeros(3, 4), path)
    elif kind == "numpy":
        np.save(folder / "numpy.npy", np.zeros(3))
        (folder / "numpy.npy").rename(path)
    elif kind == "newer":
        state = torch.load(session.save(folder / "base.pt"), weights_only=True)
        torch.save({**state, "format": "nbviz-checkpoint-99"}, path)
    elif kind == "architecture":
        other = nbviz.TrainingSession(SmallCNN(width=8), make_loader())
        other.save(path)
    elif kind == "optimizer":
        model = SmallCNN(width=4)
        nbviz.TrainingSession(model, make_loader(),
                              optimizer=torch.optim.Adam(model.parameters())).save(path)
    return path


@pytest.mark.parametrize("kind, error, message", [
    ("text", NotACheckpointError, "is a text file (it begins 'epoch,loss'), not a checkpoint"),
    ("state_dict", NotACheckpointError, "is a plain state_dict of model weights (16 tensors), not "
     "an nbviz checkpoint: it has no optimizer state or history to continue a run from. To start "
     "training from these weights, call session.load_weights(path)."),
    ("tutorial", NotACheckpointError, "is a checkpoint of another tool (keys: epoch, "
     "model_state_dict, optimizer_state_dict), not an nbviz checkpoint; to start from its model "
     "weights ('model_state_dict'), call session.load_weights(path)."),
    ("tensor", NotACheckpointError, "holds a single tensor of shape (3, 4), not an nbviz checkpoint"),
    ("numpy", NotACheckpointError, "is a numpy .npy array, not a checkpoint; read it with numpy.load."),
    ("newer", CheckpointVersionError, "is an nbviz checkpoint in format 99, written by a newer nbviz; "
     "this one reads formats 1 to 2. Upgrade nbviz"),
    ("architecture", CheckpointMismatchError, "was saved from a SmallCNN of another architecture "
     "than this one: shapes differ for features.0.0.weight (checkpoint 8x1x3x3, model 4x1x3x3)"),
    ("optimizer", CheckpointMismatchError, "was saved with the Adam optimizer, this session uses "
     "SGD: pass optimizer=torch.optim.Adam(...) to continue that run, or call "
     "session.load_weights(path) to take only its weights."),
])
def test_a_foreign_file(tmp_path, session, kind, error, message):
    path = _foreign(tmp_path, session, kind)
    session.stop()
    before, losses = weights(session.model), session.history.get("train_loss")[1]
    with pytest.raises(error) as info:
        session.restore(path)
    assert str(info.value).startswith(f"{path} {message}"), str(info.value)
    assert_same(weights(session.model), before)
    assert np.array_equal(session.history.get("train_loss")[1], losses)
    assert session.step_count == 3
    assert_usable(session, tmp_path)
