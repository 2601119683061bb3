"""The one memory check of the embedding package: refuse work that would not fit.

Both the probe set an explorer draws (inputs, thumbnails, features) and the features of a layer
are checked here, against the memory available now, before anything large is allocated.
"""

from __future__ import annotations

import os

#: refuse when a request would take more than this share of the memory available now
MEMORY_SHARE = 0.5


def available_memory() -> int | None:
    """Bytes of memory available now (psutil if installed, else sysconf), or None if unknown."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:
        try:
            return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            return None


def size_text(n_bytes: float) -> str:
    """``n_bytes`` in bytes, KiB, MiB or GiB (e.g. ``"10.00 KiB"``)."""
    for unit in ("bytes", "KiB", "MiB"):
        if n_bytes < 1024:
            return f"{n_bytes:.0f} {unit}" if unit == "bytes" else f"{n_bytes:.2f} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.2f} GiB"


def require_memory(need: int, what: str, advice: str, available: int | None = None,
                   error: type[ValueError] = ValueError) -> int:
    """Return ``need`` if it fits in :data:`MEMORY_SHARE` of the available memory.

    Args:
        need: bytes the work will allocate.
        what: the subject of the message, e.g. ``"features for 40 samples x 64 dims"``.
        advice: what to do instead, e.g. ``"use fewer samples"``.
        available: bytes available (default: measured now).
        error: the ValueError subclass to raise.

    Raises:
        ValueError: (or ``error``) it does not fit; the message names the size needed, the
            size available and ``advice``.
    """
    free = available_memory() if available is None else available
    if free is not None and need > MEMORY_SHARE * free:
        raise error(
            f"{what} need {size_text(need)}, but only {size_text(free)} is available (at most "
            f"{MEMORY_SHARE:.0%} is used); {advice}")
    return need
