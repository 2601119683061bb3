"""Say why a file is not a readable checkpoint, without running anything from it.

Only the file's first bytes and (for pickles) its opcodes are inspected: ``pickletools``
lists opcodes without executing them.
"""

from __future__ import annotations

import pickletools
import re
import zipfile
from pathlib import Path

from .checkpoint_errors import (
    CheckpointReadError,
    NotACheckpointError,
    TruncatedCheckpointError,
    UntrustedCheckpointError,
)

_MAX_PICKLE_SCAN = 64 * 1024 * 1024
# torch.save's legacy (non-zip) format starts with the pickled magic number 0x1950a86a20f9469cfc6c
LEGACY_TORCH_MAGIC = b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19."
_NBVIZ_FORMAT = re.compile(r"^nbviz-checkpoint-(\d+)$")


def _head(path: Path, n: int = 512) -> bytes:
    with open(path, "rb") as file:
        return file.read(n)


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _zip_members(path: Path) -> list[str] | None:
    """Member names, or None if the zip's directory cannot be read (cut short or damaged)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return None


def _pickle_bytes(path: Path) -> bytes:
    """The pickle torch.load would unpickle: ``*/data.pkl`` of a zip, else the file itself."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
            if names:
                with archive.open(names[0]) as member:
                    return member.read(_MAX_PICKLE_SCAN)
        return b""
    with open(path, "rb") as file:
        return file.read(_MAX_PICKLE_SCAN)


def scan_pickle(path: Path) -> tuple[list[str], int | None]:
    """(globals the pickle imports, nbviz format version found in it) — read, never run."""
    data = _pickle_bytes(path)
    found: list[str] = []
    version: int | None = None
    strings: list[str] = []
    pos = 0
    while pos < len(data):  # a legacy torch file is several pickles in a row
        try:
            for opcode, arg, at in pickletools.genops(data[pos:]):
                if isinstance(arg, str):
                    strings.append(arg)
                    match = _NBVIZ_FORMAT.match(arg)
                    if match and version is None:
                        version = int(match.group(1))
                if opcode.name in ("GLOBAL", "INST") and isinstance(arg, str):
                    found.append(arg.replace(" ", "."))
                elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                    found.append(f"{strings[-2]}.{strings[-1]}")
                if opcode.name == "STOP":
                    pos += (at or 0) + 1
                    break
            else:
                break
        except Exception:  # damaged opcodes: report what was found so far
            break
    return list(dict.fromkeys(found)), version


_SAFE_PREFIXES = ("torch._utils.", "torch.", "collections.OrderedDict", "builtins.set",
                  "_codecs.encode", "builtins.bytearray")


def is_pickle_container(path: Path) -> bool:
    """True for files torch.load unpickles (zip or legacy torch format, raw pickles)."""
    head = _head(path, 4)
    return head.startswith(b"PK\x03\x04") or head.startswith(b"\x80")


def untrusted_error(path: Path, trusted_hint: str) -> CheckpointReadError:
    """The error for a file that only full unpickling (which can run code) would read."""
    try:
        names, version = scan_pickle(path)
    except Exception:
        names, version = [], None
    if version == 1:
        return UntrustedCheckpointError(
            f"{path} is an nbviz checkpoint in the old format 1, which stores the history as "
            "numpy objects that only full unpickling can read, and unpickling can run code from "
            "the file, so nbviz did not open it. If you saved this file yourself, load it with "
            f"{trusted_hint} and save it again to convert it to the current format.", path)
    suspicious = [n for n in names if not n.startswith(_SAFE_PREFIXES)]
    shown = ", ".join(suspicious[:5]) + (f" and {len(suspicious) - 5} more" if len(suspicious) > 5 else "")
    head = _head(path, 32)
    if not head.startswith(b"PK\x03\x04") and not head.startswith(LEGACY_TORCH_MAGIC):
        if not suspicious:
            return NotACheckpointError(
                f"{path} is a plain Python pickle (pickle.dump), not a checkpoint written by "
                "torch.save or session.save.", path, "other_file")
        return UntrustedCheckpointError(
            f"{path} is a plain Python pickle (pickle.dump) that imports {shown}; unpickling "
            "it would run code from the file, so nbviz did not open it. Load it only if you "
            f"trust where it came from, with {trusted_hint}.", path)
    what = f"Python objects ({shown})" if shown else "Python objects"
    return UntrustedCheckpointError(
        f"{path} contains {what} that can only be rebuilt by unpickling, which runs code from "
        "the file, so nbviz did not open it. Load it only if you trust where it came from, "
        f"with {trusted_hint}.", path)


def unreadable_error(path: Path, exc: BaseException) -> CheckpointReadError:
    """Why torch.load could not read ``path`` (other than needing to unpickle objects)."""
    size = path.stat().st_size
    if size == 0:
        return TruncatedCheckpointError(
            f"{path} is empty (0 bytes): the save or copy that wrote it did not finish. Use an "
            "earlier checkpoint, or copy the file again.", path)
    head = _head(path)
    if b"PK\x03\x04".startswith(head) or LEGACY_TORCH_MAGIC.startswith(head):
        return TruncatedCheckpointError(
            f"{path} is cut short or damaged (only {size} bytes): a save, copy or download of "
            "it was interrupted. Use an earlier checkpoint, or copy the file again.", path)
    if head.startswith(b"PK\x03\x04"):
        members = _zip_members(path)
        if members is None:
            return TruncatedCheckpointError(
                f"{path} is cut short or damaged ({size} bytes; its zip directory cannot be "
                "read): a save, copy or download of it was interrupted. Use an earlier "
                "checkpoint, or copy the file again.", path)
        if not any(m.endswith("data.pkl") for m in members):
            listed = ", ".join(members[:4]) + (" ..." if len(members) > 4 else "")
            return NotACheckpointError(
                f"{path} is a zip archive ({listed}), not a file written by torch.save or "
                "session.save.", path, "other_file")
        return TruncatedCheckpointError(
            f"{path} is damaged: torch could not read it ({_first_line(exc)}). Use an earlier "
            "checkpoint, or copy the file again.", path)
    if head.startswith(b"\x80") and not head.startswith(LEGACY_TORCH_MAGIC):
        return NotACheckpointError(
            f"{path} is a plain Python pickle (pickle.dump), not a checkpoint written by "
            "torch.save or session.save.", path, "other_file")
    if head.startswith(b"\x80"):  # the legacy (pre-zip) torch.save format
        return TruncatedCheckpointError(
            f"{path} is cut short or damaged: reading it failed ({_first_line(exc)}). Use an "
            "earlier checkpoint, or copy the file again.", path)
    if head.startswith(b"\x93NUMPY"):
        return NotACheckpointError(f"{path} is a numpy .npy array, not a checkpoint; read it with "
                                   "numpy.load.", path, "other_file")
    if head.startswith(b"\x89HDF"):
        return NotACheckpointError(f"{path} is an HDF5 file (Keras or h5py), not a PyTorch "
                                   "checkpoint.", path, "other_file")
    if len(head) > 10 and head[8:10] == b'{"':
        return NotACheckpointError(
            f"{path} looks like a safetensors file, not an nbviz checkpoint; read its weights "
            "with safetensors.torch.load_file and model.load_state_dict.", path, "other_file")
    if _looks_like_text(head):
        begins = head[:40].decode("utf-8", "replace").splitlines()[0] if head.strip() else ""
        return NotACheckpointError(
            f"{path} is a text file (it begins {begins!r}), not a checkpoint; give the path of "
            "a file written by session.save.", path, "text")
    return NotACheckpointError(
        f"{path} is not a checkpoint: it was not written by torch.save or session.save "
        f"(it begins with bytes {head[:8]!r}).", path, "other_file")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__
