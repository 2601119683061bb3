"""Per-thread OpenMP thread count, so grid workers run one op thread each.

``torch.set_num_threads`` also changes the process-wide default that threads started later
(a new training thread) pick up. OpenMP's ``omp_set_num_threads`` sets only the calling
thread's count, so we call it on the OpenMP runtime torch already loaded (found in
/proc/self/maps). Where that is not possible (no /proc, another runtime), workers fall back
to one thread using torch's own setting.

Why: on 2 cores, one 64-sample chunk of the reference CNN scaled only 1.3x with 2 op threads,
and with other work on the machine (training, other processes) OpenMP threads spin-wait for
a descheduled partner (measured 3x slower per point under load); two single-threaded
workers on different grid points share the cores without waiting on each other.
"""

from __future__ import annotations

import ctypes
import functools
import os
from typing import Any

import torch

_NAMES = ("libgomp", "libiomp5", "libomp")


@functools.lru_cache(maxsize=1)
def _openmp() -> Any | None:
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = {line.split()[-1] for line in maps if "/" in line}
    except OSError:
        return None
    torch_dir = os.path.dirname(torch.__file__)
    # torch's own runtime first: other packages (scikit-learn...) may load another copy
    for path in sorted(paths, key=lambda p: (not p.startswith(torch_dir), p)):
        if any(name in path.rsplit("/", 1)[-1] for name in _NAMES):
            try:
                lib = ctypes.CDLL(path)
                lib.omp_set_num_threads.argtypes = [ctypes.c_int]
                lib.omp_get_max_threads.restype = ctypes.c_int
                return lib
            except (OSError, AttributeError):
                continue
    return None


def set_thread_ops(count: int) -> int | None:
    """Give the calling thread ``count`` op threads and return its previous count (to restore
    with this function); None where that is not possible (the thread keeps torch's setting)."""
    torch.zeros(2).sum()  # torch initialises this thread's count on its first parallel op
    lib = _openmp()
    if lib is None or "OpenMP" not in torch.__config__.parallel_info():
        return None
    before = torch.get_num_threads()
    lib.omp_set_num_threads(int(count))
    if torch.get_num_threads() != count:  # not the runtime torch uses: undo, change nothing
        lib.omp_set_num_threads(before)
        return None
    return before


def parallel_workers() -> int:
    """How many single-threaded grid workers to run: torch's op thread count (>= 1) where each
    worker can be made single-threaded, else 1 (the worker then uses torch's setting)."""
    return max(1, torch.get_num_threads()) if _openmp() is not None else 1
