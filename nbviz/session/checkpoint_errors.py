"""The errors checkpoint reading and writing raise, each naming the file and what to do."""

from __future__ import annotations

import errno
import os
from pathlib import Path


class CheckpointError(Exception):
    """Base of every checkpoint error; ``path`` is the file concerned."""

    def __init__(self, message: str, path: str | os.PathLike | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = Path(path) if path is not None else None

    def __str__(self) -> str:
        return self.message


class CheckpointReadError(CheckpointError, ValueError):
    """A file could not be read as a checkpoint of this session."""


class UntrustedCheckpointError(CheckpointReadError):
    """Reading the file would run code from it (unpickling); refused unless ``trusted=True``."""


class CheckpointVersionError(CheckpointReadError):
    """An nbviz checkpoint in a format version this nbviz does not read."""


class TruncatedCheckpointError(CheckpointReadError):
    """The file ends early or is damaged (an interrupted save, copy or download)."""


class NotACheckpointError(CheckpointReadError):
    """The file is something else: text, a plain state_dict, another tool's checkpoint, ...

    ``kind`` says which: ``"text"``, ``"state_dict"``, ``"other_checkpoint"``, ``"torch_object"``,
    ``"other_file"``, ``"folder"``.
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None,
                 kind: str = "other_file") -> None:
        super().__init__(message, path)
        self.kind = kind


class CheckpointMismatchError(CheckpointReadError):
    """A checkpoint of another architecture or optimizer than this session's."""


class CheckpointWriteError(CheckpointError, OSError):
    """Saving failed; ``errno`` is the OS cause where there is one. Nothing was replaced."""

    def __init__(self, message: str, path: str | os.PathLike, code: int | None = None) -> None:
        super().__init__(message, path)
        self.errno = code

    def __str__(self) -> str:
        return self.message


# errno -> (what happened, what to do); {path} is the checkpoint being written.
_WRITE_CAUSES: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("no space left on the device",
                   "free some space on that disk or save to another folder"),
    errno.EDQUOT: ("the disk quota is exceeded",
                   "free some space within your quota or save to another folder"),
    errno.EFBIG: ("the file is larger than this process or file system allows (file-size limit)",
                  "raise the limit (ulimit -f) or save to another file system"),
    errno.EACCES: ("permission denied",
                   "save to a folder you can write to, or change the permissions of that folder"),
    errno.EPERM: ("the operation is not permitted (the file or folder may be immutable or locked)",
                  "save to another folder, or lift the lock on that one"),
    errno.EROFS: ("the file system is read-only",
                  "save to a folder on a writable disk"),
    errno.EISDIR: ("that path is a directory",
                   "give a file name inside it, such as {path}/run.pt"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder",
                    "choose a path whose folders are folders"),
    errno.ENAMETOOLONG: ("the file name is too long",
                         "use a shorter name"),
    errno.EIO: ("an input/output error occurred (a failing or disconnected disk)",
                "check the disk and save to another one"),
    errno.ENOENT: ("its folder disappeared while saving",
                   "save again, to a folder that exists"),
}


def find_os_error(exc: BaseException | None) -> OSError | None:
    """The first OSError in ``exc`` and its chained causes/contexts (torch hides it there)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and not isinstance(exc, CheckpointError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def write_error(path: Path, exc: BaseException) -> CheckpointWriteError:
    """One sentence naming ``path``, the cause and what to do; says nothing was replaced."""
    os_error = find_os_error(exc)
    unchanged = "the previous checkpoint there (if any) and the session are unchanged"
    if os_error is not None and os_error.errno in _WRITE_CAUSES:
        cause, advice = _WRITE_CAUSES[os_error.errno]
        advice = advice.format(path=path)
        return CheckpointWriteError(
            f"Could not save the checkpoint {path}: {cause} ({errno.errorcode[os_error.errno]}); "
            f"{advice}. Nothing was lost: {unchanged}.", path, os_error.errno)
    if os_error is not None:
        detail = os_error.strerror or str(os_error) or type(os_error).__name__
        return CheckpointWriteError(
            f"Could not save the checkpoint {path}: {detail}; save to another path. "
            f"Nothing was lost: {unchanged}.", path, os_error.errno)
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return CheckpointWriteError(
        f"Could not save the checkpoint {path}: torch.save failed ({detail}); save to another "
        f"path. Nothing was lost: {unchanged}.", path)
