"""Keep glibc from handing tensor memory back to the system after every CPU training step.

By default glibc serves blocks above a (dynamic) mmap threshold with their own ``mmap`` and
returns freed memory at the top of the heap once it exceeds a trim threshold; a thread's own
arena also deletes whole 64 MB heaps as soon as they empty. A CPU training step frees and
re-allocates the same large activation and gradient tensors every batch, so each step pays
for fresh zero pages again (page faults: ~15% of a small CNN's step on a 2-core machine).

:func:`tune_for_training` raises the mmap and trim thresholds and the top pad with
``mallopt`` (glibc only, process-wide, once): freed tensor memory stays mapped and is reused.
It changes nothing where it cannot or should not: not Linux/glibc, another allocator loaded
(jemalloc, tcmalloc, mimalloc via ``LD_PRELOAD``), the user's own ``MALLOC_*`` settings, or
the opt-out (``NBVIZ_TUNE_ALLOCATOR=0`` or ``TrainingSession(..., tune_allocator=False)``).
The cost is that memory freed by one step is kept for the next instead of returned; peak
RSS is what ``bench/allocator.py`` measures.
"""

from __future__ import annotations

import ctypes
import os
import platform
import threading
from collections.abc import Collection
from dataclasses import dataclass, field

ENV_VAR = "NBVIZ_TUNE_ALLOCATOR"
OPT_OUT = (f"opt out: TrainingSession(..., tune_allocator=False) or the environment variable "
           f"{ENV_VAR}=0")

# mallopt parameter numbers (glibc malloc.h)
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3

MB = 1 << 20
SETTINGS: dict[str, tuple[int, int]] = {
    # name: (mallopt parameter, value)
    "mmap_threshold": (M_MMAP_THRESHOLD, 256 * MB),  # large tensors come from the heap, reused
    "trim_threshold": (M_TRIM_THRESHOLD, 256 * MB),  # freed memory at the heap top is kept
    "top_pad": (M_TOP_PAD, 64 * MB),  # a thread arena keeps an emptied 64 MB heap
}
_USER_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_",
             "MALLOC_ARENA_MAX")
_OTHER_ALLOCATORS = ("jemalloc", "tcmalloc", "mimalloc")


@dataclass(frozen=True)
class AllocatorTuning:
    """What :func:`tune_for_training` did: ``applied`` and a one-line ``note`` saying why."""

    applied: bool
    note: str
    settings: dict[str, int] = field(default_factory=dict)


_lock = threading.Lock()
_result: AllocatorTuning | None = None


def env_opt_out() -> bool:
    """True when ``NBVIZ_TUNE_ALLOCATOR`` is set to 0, false, no or off."""
    return os.environ.get(ENV_VAR, "").strip().lower() in ("0", "false", "no", "off")


def _loaded_allocator() -> str | None:
    """The name of another malloc (jemalloc, tcmalloc, mimalloc) mapped into this process."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            text = maps.read()
    except OSError:
        text = ""
    text += " " + os.environ.get("LD_PRELOAD", "")
    return next((name for name in _OTHER_ALLOCATORS if name in text), None)


def _why_not(ignore_env: Collection[str] = ()) -> str | None:
    """Why the allocator must be left alone here, or None when it can be tuned."""
    if env_opt_out():
        return f"CPU allocator left as it is ({ENV_VAR}={os.environ[ENV_VAR]})"
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return ("CPU allocator left as it is: the tuning applies to glibc on Linux only "
                f"(this is {platform.system()} {platform.libc_ver()[0] or 'without glibc'})")
    other = _loaded_allocator()
    if other is not None:
        return f"CPU allocator left as it is: {other} is in use (it already reuses freed memory)"
    user = [name for name in _USER_ENV if name in os.environ and name not in ignore_env]
    if user or "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", ""):
        return ("CPU allocator left as it is: your own settings are in force ("
                f"{', '.join(user) or 'GLIBC_TUNABLES'})")
    return None


def _applied_note() -> str:
    return ("CPU allocator tuned for training: glibc keeps freed tensor memory for the next step "
            f"(mmap/trim thresholds {SETTINGS['mmap_threshold'][1] // MB} MB) instead of "
            f"page-faulting it back in; {OPT_OUT}")


def plan(enabled: bool = True, ignore_env: Collection[str] = ()) -> AllocatorTuning:
    """What :func:`tune_for_training` would do now (nothing is changed)."""
    if _result is not None and _result.applied:
        return _result
    if not enabled:
        return AllocatorTuning(False, "CPU allocator left as it is (tune_allocator=False)")
    reason = _why_not(ignore_env)
    if reason is not None:
        return AllocatorTuning(False, reason)
    return AllocatorTuning(True, _applied_note(),
                           {name: value for name, (_, value) in SETTINGS.items()})


def tune_for_training(enabled: bool = True, ignore_env: Collection[str] = ()) -> AllocatorTuning:
    """Tune glibc malloc for training (once per process, unless ``enabled`` is False or
    the environment opts out); never raises.

    ``ignore_env`` names ``MALLOC_*`` variables set by a launcher rather than the user, which
    must not stop the tuning (Dask's nanny sets ``MALLOC_TRIM_THRESHOLD_``: see
    :data:`nbviz.sweep.trial.DASK_WORKER_MALLOC_ENV`).

    Returns the same :class:`AllocatorTuning` on every call after the first that applied it.
    """
    global _result
    with _lock:
        planned = plan(enabled, ignore_env)
        if not planned.applied or planned is _result:
            return planned
        try:
            libc = ctypes.CDLL(None)
            mallopt = libc.mallopt
            mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            mallopt.restype = ctypes.c_int
            refused = [name for name, (param, value) in SETTINGS.items()
                       if mallopt(param, value) != 1]
        except (OSError, AttributeError) as exc:
            return AllocatorTuning(False, f"CPU allocator left as it is: mallopt unavailable ({exc})")
        if refused:
            return AllocatorTuning(False, f"CPU allocator: glibc refused {', '.join(refused)}")
        _result = planned
        return _result


def current() -> AllocatorTuning | None:
    """The tuning applied in this process, if any."""
    return _result
