"""Checkpoint files: plain data that loads without running code, written atomically.

A checkpoint holds only tensors, numbers, strings, None, lists, tuples and dicts, so it is
read with ``torch.load(weights_only=True)``: opening a file someone sent runs nothing.
Files are written to a temporary file beside the target (``.NAME.nbviz-tmp-PID-XXXXXXXX``),
flushed to disk and renamed over the target, so a crash mid-write leaves the previous
checkpoint intact; temporary files of interrupted saves are removed by the next save to
the same folder (only files of exactly that pattern, whose process is gone).
"""

from __future__ import annotations

import errno
import numbers
import os
import pickle
import re
import secrets
import sys
import threading
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .checkpoint_diagnose import is_pickle_container, unreadable_error, untrusted_error
from .checkpoint_errors import (
    CheckpointError,
    CheckpointMismatchError,
    CheckpointReadError,
    CheckpointVersionError,
    CheckpointWriteError,
    NotACheckpointError,
    TruncatedCheckpointError,
    UntrustedCheckpointError,
    write_error,
)

__all__ = [
    "FORMAT", "VERSION", "CheckpointError", "CheckpointMismatchError", "CheckpointReadError",
    "CheckpointVersionError", "CheckpointWriteError", "NotACheckpointError",
    "TruncatedCheckpointError", "UntrustedCheckpointError", "check_fits", "pack_history",
    "read", "read_weights", "remove_stale_temps", "unpack_history", "write_atomic",
]

VERSION = 2
FORMAT = f"nbviz-checkpoint-{VERSION}"
READABLE_VERSIONS = (1, 2)  # 1: numpy history, needs trusted=True unless its history is empty
_FORMAT_RE = re.compile(r"^nbviz-checkpoint-(\d+)$")
TEMP_RE = re.compile(r"^\.(?P<name>.+)\.nbviz-tmp-(?P<pid>\d+)-(?P<tag>[0-9a-f]{8})$")
_MODEL_KEYS = ("model_state_dict", "state_dict", "model", "net", "network")

_active_temps: set[str] = set()
_active_lock = threading.Lock()


# ---- plain data ---------------------------------------------------------------------------
def _plain(value: Any, where: str, lenient: bool = False) -> Any:
    """``value`` as tensors and primitives only; numpy becomes tensors/Python numbers.

    Raises:
        TypeError: naming ``where`` for a value a checkpoint cannot hold without pickling
            code (unless ``lenient``, which stores such values as their ``repr``).
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value).copy())
    if isinstance(value, np.generic) or isinstance(value, numbers.Number):
        item = value.item() if isinstance(value, np.generic) else value
        if isinstance(item, (bool, int, float)):
            return item
    if isinstance(value, (torch.device, torch.dtype)):
        return value
    if isinstance(value, Mapping):
        items = [(k, _plain(v, f"{where}[{k!r}]", lenient)) for k, v in value.items()]
        if not all(isinstance(k, (str, int)) for k, _ in items):
            if lenient:
                return {str(k): v for k, v in items}
            raise TypeError(f"cannot save {where}: its keys must be strings or integers")
        if not isinstance(value, OrderedDict):
            return dict(items)
        result: OrderedDict = OrderedDict(items)
        metadata = getattr(value, "_metadata", None)  # module versions of a state_dict
        if isinstance(metadata, Mapping):
            result._metadata = _plain(metadata, f"{where} metadata", lenient=True)  # type: ignore[attr-defined]
        return result
    if isinstance(value, list):
        return [_plain(v, f"{where}[{i}]", lenient) for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return tuple(_plain(v, f"{where}[{i}]", lenient) for i, v in enumerate(value))
    if lenient:
        return repr(value)
    raise TypeError(
        f"cannot save {where}: it is a {type(value).__qualname__}, and a checkpoint holds only "
        "tensors, numbers, strings, lists and dicts (so that loading it never runs code); "
        "store it as one of those")


def pack_history(state: Mapping[str, Any]) -> dict[str, Any]:
    """A History.state_dict() as plain data (arrays become tensors; odd event data its repr)."""
    series = {name: _plain(s, f"history series {name!r}") for name, s in state["series"].items()}
    events = [_plain(e, "history event", lenient=True) for e in state["events"]]
    return {"capacity": int(state["capacity"]), "series": series, "events": events}


def unpack_history(state: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`pack_history`, validated so History.load_state_dict cannot fail."""
    from .history import History

    def array(value: Any) -> np.ndarray:
        if isinstance(value, torch.Tensor):
            return value.detach().cpu().numpy().astype(np.float64)
        return np.asarray(value, dtype=np.float64)

    series = {}
    for name, s in state["series"].items():
        s = dict(s)
        s["x"], s["y"] = array(s["x"]), array(s["y"])
        series[name] = s
    events = [dict(e, data=dict(e.get("data", {}))) for e in state["events"]]
    unpacked = {"capacity": int(state["capacity"]), "series": series, "events": events}
    History(int(state["capacity"])).load_state_dict(unpacked)  # raises on a malformed history
    return unpacked


def pack(state: Mapping[str, Any]) -> dict[str, Any]:
    """The dict written to disk: ``state`` as plain data, with the format tag first."""
    packed: dict[str, Any] = {"format": FORMAT, "torch_version": str(torch.__version__)}
    for key, value in state.items():
        packed[key] = pack_history(value) if key == "history" else _plain(value, repr(key))
    return packed


# ---- writing ------------------------------------------------------------------------------
class _RecordingFile:
    """A file for torch.save that remembers the OSError torch turns into 'unexpected pos'."""

    def __init__(self, file: Any) -> None:
        self.file = file
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        try:
            return self.file.write(data)
        except OSError as exc:
            self.error = self.error or exc
            raise

    def flush(self) -> None:
        self.file.flush()


def _pid_alive(pid: int) -> bool:
    if sys.platform == "win32":  # os.kill would terminate it: keep the file
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def remove_stale_temps(folder: str | os.PathLike) -> list[Path]:
    """Remove temporary files that interrupted saves left in ``folder``; returns them.

    Only files named exactly like nbviz's own temporaries are touched, and only when the
    process that wrote them is gone (or is this one and no save of it is writing them).
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(os.fspath(folder)))
    except OSError:
        return removed
    for entry in entries:
        match = TEMP_RE.match(entry.name)
        if match is None or not entry.is_file(follow_symlinks=False):
            continue
        pid = int(match.group("pid"))
        with _active_lock:
            busy = entry.path in _active_temps
        if busy or (pid != os.getpid() and _pid_alive(pid)):
            continue
        try:
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            pass
    return removed


def _fsync_folder(folder: Path) -> None:
    if sys.platform == "win32":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(state: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Write ``state`` (plain data, see :func:`pack`) to ``path`` atomically; returns the path.

    Raises:
        CheckpointWriteError: (an OSError) naming the path, the cause (no space left,
            permission denied, read-only file system, path is a directory, ...) and what
            to do. Whatever was at ``path`` before is left as it was.
        TypeError: ``state`` holds an object that would need pickling code.
    """
    path = Path(os.path.expanduser(os.fspath(path)))
    payload = pack(state)
    try:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
        for parent in path.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise NotADirectoryError(errno.ENOTDIR, "Not a directory", str(parent))
                break
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(path, exc) from exc
    remove_stale_temps(path.parent)
    tmp = path.parent / f".{path.name}.nbviz-tmp-{os.getpid()}-{secrets.token_hex(4)}"
    with _active_lock:
        _active_temps.add(str(tmp))
    sink: _RecordingFile | None = None
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        fd = os.open(tmp, flags, 0o666)
        with os.fdopen(fd, "wb") as file:
            sink = _RecordingFile(file)
            torch.save(payload, sink)  # type: ignore[arg-type]  # torch only calls write()
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if not isinstance(exc, Exception):
            raise
        cause: BaseException = sink.error if sink is not None and sink.error is not None else exc
        raise write_error(path, cause) from exc
    finally:
        with _active_lock:
            _active_temps.discard(str(tmp))
    _fsync_folder(path.parent)
    return path


# ---- reading ------------------------------------------------------------------------------
_TRUSTED_HINT = "trusted=True (for example session.restore(path, trusted=True))"


def _torch_load(path: Path, map_location: Any, trusted: bool) -> Any:
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols it then refuses
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if not is_pickle_container(path):
            raise unreadable_error(path, exc) from exc
        if not trusted:
            raise untrusted_error(path, _TRUSTED_HINT) from exc
    except Exception as exc:
        raise unreadable_error(path, exc) from exc
    warnings.warn(f"unpickling {path} with trusted=True: this runs any code the file contains",
                  stacklevel=3)
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:
        raise unreadable_error(path, exc) from exc


def _check_path(path: Path) -> None:
    if path.is_dir():
        newest = sorted(path.glob("*.pt"), key=lambda p: p.stat().st_mtime)
        hint = f" (the newest .pt file there is {newest[-1].name})" if newest else ""
        raise NotACheckpointError(f"{path} is a folder; give the path of a checkpoint file "
                                  f"inside it{hint}.", path, "folder")
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}; save one with session.save({str(path)!r})")


def _is_state_dict(value: Any) -> bool:
    return (isinstance(value, Mapping) and len(value) > 0
            and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items()))


def _foreign_error(path: Path, state: Any) -> NotACheckpointError:
    if isinstance(state, torch.Tensor):
        return NotACheckpointError(
            f"{path} holds a single tensor of shape {tuple(state.shape)}, not an nbviz "
            "checkpoint (written by session.save).", path, "torch_object")
    if _is_state_dict(state):
        return NotACheckpointError(
            f"{path} is a plain state_dict of model weights ({len(state)} tensors), not an "
            "nbviz checkpoint: it has no optimizer state or history to continue a run from. "
            "To start training from these weights, call session.load_weights(path).",
            path, "state_dict")
    if isinstance(state, Mapping):
        keys = ", ".join(map(str, list(state)[:6])) + (" ..." if len(state) > 6 else "")
        model_key = next((k for k in _MODEL_KEYS if _is_state_dict(state.get(k))), None)
        if model_key is not None:
            return NotACheckpointError(
                f"{path} is a checkpoint of another tool (keys: {keys}), not an nbviz "
                f"checkpoint; to start from its model weights ({model_key!r}), call "
                "session.load_weights(path).", path, "other_checkpoint")
        return NotACheckpointError(
            f"{path} holds a dict saved with torch.save (keys: {keys}), not an nbviz checkpoint "
            "written by session.save.", path, "torch_object")
    return NotACheckpointError(
        f"{path} holds a {type(state).__name__} saved with torch.save, not an nbviz checkpoint "
        "written by session.save.", path, "torch_object")


def _check_state(path: Path, state: Any) -> dict[str, Any]:
    fmt = state.get("format") if isinstance(state, Mapping) else None
    if not isinstance(fmt, str):
        raise _foreign_error(path, state)
    match = _FORMAT_RE.match(fmt)
    if match is None:
        raise CheckpointVersionError(
            f"{path} has an unknown checkpoint format {fmt!r}; this nbviz reads nbviz "
            f"checkpoint formats {READABLE_VERSIONS[0]} to {VERSION}.", path)
    version = int(match.group(1))
    if version not in READABLE_VERSIONS:
        newer = version > VERSION
        raise CheckpointVersionError(
            f"{path} is an nbviz checkpoint in format {version}, written by "
            f"{'a newer' if newer else 'an older'} nbviz; this one reads formats "
            f"{READABLE_VERSIONS[0]} to {VERSION}. "
            + ("Upgrade nbviz (pip install -U nbviz) to load it." if newer else
               "Load it with the nbviz version that wrote it and save its weights with "
               "torch.save(model.state_dict(), ...), then use session.load_weights."), path)
    problems = [key for key, kind in (("model", Mapping), ("optimizer", Mapping), ("step", int),
                                      ("epoch", int), ("history", Mapping))
                if not isinstance(state.get(key), kind)]
    if problems:
        raise TruncatedCheckpointError(
            f"{path} is a damaged nbviz checkpoint: {', '.join(problems)} "
            f"{'is' if len(problems) == 1 else 'are'} missing or of the wrong type. Use an "
            "earlier checkpoint.", path)
    try:
        history = unpack_history(state["history"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TruncatedCheckpointError(
            f"{path} is a damaged nbviz checkpoint: its history cannot be read ({exc!r}). Use "
            "an earlier checkpoint.", path) from exc
    return {**state, "history": history, "version": version}


def read(path: str | os.PathLike, map_location: Any = "cpu", trusted: bool = False) -> dict[str, Any]:
    """Read a checkpoint written by :func:`write_atomic`, running no code from the file.

    Args:
        trusted: also read files that need full unpickling (old format 1, or files holding
            Python objects). **Unpickling runs any code the file contains: use it only for
            files you wrote yourself or trust completely.**

    Raises:
        FileNotFoundError: nothing at ``path``.
        UntrustedCheckpointError: the file needs unpickling and ``trusted`` is False.
        TruncatedCheckpointError, CheckpointVersionError, NotACheckpointError: the file is
            cut short or damaged, of another nbviz format version, or not a checkpoint.
    """
    path = Path(os.path.expanduser(os.fspath(path)))
    _check_path(path)
    state = _torch_load(path, map_location, trusted)
    return _check_state(path, state)


def read_weights(path: str | os.PathLike, map_location: Any = "cpu",
                 trusted: bool = False) -> dict[str, torch.Tensor]:
    """Model weights from an nbviz checkpoint, a plain state_dict, or another tool's checkpoint.

    Raises:
        the errors of :func:`read`; NotACheckpointError when no weights are found.
    """
    path = Path(os.path.expanduser(os.fspath(path)))
    _check_path(path)
    state = _torch_load(path, map_location, trusted)
    if isinstance(state, Mapping) and isinstance(state.get("format"), str):
        return dict(_check_state(path, state)["model"])
    if _is_state_dict(state):
        return dict(state)
    if isinstance(state, Mapping):
        for key in _MODEL_KEYS:
            if _is_state_dict(state.get(key)):
                return dict(state[key])
    if isinstance(state, torch.nn.Module):  # a whole pickled model, only reachable if trusted
        return dict(state.state_dict())
    raise NotACheckpointError(
        f"{path} holds no model weights nbviz can find (a state_dict, or a dict with one of "
        f"the keys {', '.join(_MODEL_KEYS)}).", path, "torch_object")


# ---- does it fit this model ---------------------------------------------------------------
def _shape(t: torch.Tensor) -> str:
    return "x".join(map(str, t.shape)) or "scalar"


def _listed(names: list[str], n: int = 4) -> str:
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")


def weights_mismatch(saved: Mapping[str, Any], model: torch.nn.Module) -> str | None:
    """A short description of how ``saved`` weights differ from ``model``'s, or None."""
    current = model.state_dict()
    shapes = [f"{k} (checkpoint {_shape(v)}, model {_shape(current[k])})"
              for k, v in saved.items()
              if k in current and isinstance(v, torch.Tensor) and v.shape != current[k].shape]
    missing = [k for k in current if k not in saved]
    extra = [k for k in saved if k not in current]
    parts = []
    if shapes:
        parts.append(f"shapes differ for {_listed(shapes, 3)}")
    if missing:
        parts.append(f"missing from the checkpoint: {_listed(missing)}")
    if extra:
        parts.append(f"not in this model: {_listed(extra)}")
    return "; ".join(parts) or None


def check_fits(path: str | os.PathLike, state: Mapping[str, Any], model: torch.nn.Module,
               optimizer: torch.optim.Optimizer | None) -> None:
    """Raise CheckpointMismatchError if ``state`` was saved from another model or optimizer."""
    mismatch = weights_mismatch(state["model"], model)
    if mismatch:
        name, saved_class = type(model).__name__, state.get("model_class")
        origin = (f"a {saved_class}, not this {name}" if isinstance(saved_class, str)
                  and saved_class != name else f"a {name} of another architecture than this one")
        raise CheckpointMismatchError(
            f"{path} was saved from {origin}: {mismatch}. Build the model exactly as when it "
            "was saved (same class and arguments), then load again.", path)
    if optimizer is None:
        return
    saved_opt = state.get("optimizer_class")
    if isinstance(saved_opt, str) and saved_opt != type(optimizer).__name__:
        raise CheckpointMismatchError(
            f"{path} was saved with the {saved_opt} optimizer, this session uses "
            f"{type(optimizer).__name__}: pass optimizer=torch.optim.{saved_opt}(...) to continue "
            "that run, or call session.load_weights(path) to take only its weights.", path)
    groups = state["optimizer"].get("param_groups", [])
    saved_sizes = [len(g.get("params", [])) for g in groups]
    sizes = [len(g["params"]) for g in optimizer.param_groups]
    if saved_sizes != sizes:
        raise CheckpointMismatchError(
            f"{path} has optimizer parameter groups of sizes {saved_sizes}, this session's "
            f"optimizer has {sizes}: build the optimizer over the same parameters as when it "
            "was saved, or call session.load_weights(path) to take only the weights.", path)

