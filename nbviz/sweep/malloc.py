"""Keep glibc from handing a worker's tensors back to the kernel at every training step.

Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``. Setting any malloc
threshold turns off glibc's *dynamic* mmap threshold, so every buffer of 128 KiB or more
(activations, gradients of a small CNN) is mmapped and unmapped at every step and faulted
back in: measured here, 700,000 page faults and twice the CPU time per 60 SmallCNN steps
compared with the same steps in the kernel. :func:`tune_for_training` raises the mmap
threshold to glibc's maximum (32 MiB) and the trim threshold above it, as the dynamic
threshold would have, in the worker process running a trial.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest (DEFAULT_MMAP_THRESHOLD_MAX on 64 bit)
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD

_done = False


def tune_for_training() -> bool:
    """Raise the malloc thresholds of this process once (glibc only); True if they were set."""
    global _done
    if _done or not sys.platform.startswith("linux"):
        return _done
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl): nothing to tune
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _done
