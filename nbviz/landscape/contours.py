"""Contour lines of a grid as one polyline with NaN breaks (bqplot's Lines skips NaN points),
so a whole set of iso-lines is a single mark and a single message."""

from __future__ import annotations

import contourpy
import numpy as np


def contour_paths(coords: np.ndarray, grid: np.ndarray, levels: np.ndarray | list[float]
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) float32 of the iso-lines of ``grid`` (rows: y, columns: x, both at ``coords``)
    at each of ``levels``, lines separated by NaN. Non-finite cells are left out."""
    z = np.ma.masked_invalid(np.asarray(grid, np.float64))
    if z.mask is np.ma.nomask or not z.mask.any():
        z = z.data  # type: ignore[assignment]
    gen = contourpy.contour_generator(x=np.asarray(coords, np.float64), y=np.asarray(coords, np.float64),
                                      z=z, line_type=contourpy.LineType.Separate)
    pieces: list[np.ndarray] = []
    for level in levels:
        for line in gen.lines(float(level)):
            if len(line) >= 2:
                pieces.append(np.asarray(line, np.float64))
                pieces.append(np.full((1, 2), np.nan))
    if not pieces:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    points = np.concatenate(pieces[:-1])
    return points[:, 0].astype(np.float32), points[:, 1].astype(np.float32)
