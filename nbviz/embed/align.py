"""Aligning a new layout to the previous one, so a refresh moves points instead of flipping them."""

from __future__ import annotations

import numpy as np


def procrustes(Y: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``Y`` rotated or reflected (no scaling) to best match ``reference``, as float32.

    Returns ``Y`` unchanged when the shapes differ (the layouts are of different points).
    """
    Y = np.asarray(Y)
    reference = np.asarray(reference)
    if Y.shape != reference.shape or Y.ndim != 2 or len(Y) == 0:
        return Y
    mu, ref_mu = Y.mean(0), reference.mean(0)
    u, _, vt = np.linalg.svd((Y - mu).T @ (reference - ref_mu))
    return ((Y - mu) @ (u @ vt) + ref_mu).astype(np.float32)
