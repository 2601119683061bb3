"""Draw a class-probability map with the data points into one RGB uint8 image, and hidden
units' maps as one-channel uint8 tiles (for the diverging ``coolwarm`` colormap)."""

from __future__ import annotations

import numpy as np

from .grid import GridSpec

# orange, blue (as in the TensorFlow playground), then more distinct hues for more classes
CLASS_COLOURS = np.array([[245, 147, 34], [8, 119, 189], [46, 160, 67], [214, 39, 40], [148, 103, 189],
                          [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207]],
                         np.float32)
_DISC = [(dr, dc) for dr in range(-2, 3) for dc in range(-2, 3) if dr * dr + dc * dc <= 5]
_CORE = [(dr, dc) for dr in range(-1, 2) for dc in range(-1, 2) if dr * dr + dc * dc <= 1]


def class_colours(classes: int) -> np.ndarray:
    """RGB float32 colours for ``classes`` classes (cycling past ten)."""
    return CLASS_COLOURS[np.arange(classes) % len(CLASS_COLOURS)]


def map_colours(probabilities: np.ndarray, discretize: bool = False, uncertainty: bool = True) -> np.ndarray:
    """RGB float32 (H x W x 3) of a probability map (H x W x C).

    ``discretize`` paints each point in its most likely class's colour (else the
    probability-weighted mix); ``uncertainty`` fades points toward white as the top
    probability falls to chance (1/C).
    """
    classes = probabilities.shape[-1]
    colours = class_colours(classes)
    if discretize:
        rgb = colours[probabilities.argmax(-1)]
    else:
        rgb = probabilities @ colours
    if uncertainty:
        chance = 1.0 / classes
        confidence = np.clip((probabilities.max(-1) - chance) / (1 - chance), 0.0, 1.0)[..., None]
        rgb = 255.0 + (rgb - 255.0) * (0.15 + 0.7 * confidence)
    else:
        rgb = 255.0 + (rgb - 255.0) * 0.85
    return rgb.astype(np.float32)


def render_map(probabilities: np.ndarray, grid: GridSpec, points: np.ndarray | None = None,
               labels: np.ndarray | None = None, held_out: np.ndarray | None = None,
               discretize: bool = False, uncertainty: bool = True, scale: int = 3) -> np.ndarray:
    """The map, enlarged ``scale`` times, with ``points`` drawn as dots: uint8 H x W x 3.

    Training points get a dark rim, held-out (validation) points a white one.
    """
    rgb = map_colours(probabilities, discretize, uncertainty)
    image = np.repeat(np.repeat(rgb, scale, 0), scale, 1)
    if points is not None and labels is not None and len(points):
        size = image.shape[0]
        pixels = grid.to_pixels(np.asarray(points, np.float64), size)
        inside = ((pixels >= 0) & (pixels < size)).all(1)
        pixels, lab = pixels[inside], np.asarray(labels)[inside]
        rim_dark = np.ones(len(pixels), bool) if held_out is None else ~np.asarray(held_out)[inside]
        rim = np.where(rim_dark[:, None], np.array([40, 40, 40], np.float32), np.array([255, 255, 255], np.float32))
        fill = class_colours(int(lab.max()) + 1 if len(lab) else 1)[lab]
        for stencil, colour in ((_DISC, rim), (_CORE, fill)):
            for dr, dc in stencil:
                r = np.clip(pixels[:, 0] + dr, 0, size - 1)
                c = np.clip(pixels[:, 1] + dc, 0, size - 1)
                image[r, c] = colour
    return np.ascontiguousarray(np.clip(image, 0, 255).astype(np.uint8))


def unit_tiles(units: np.ndarray, step: int = 1) -> np.ndarray:
    """Hidden-unit maps (N x H x W float) as uint8 tiles, each scaled symmetrically around 0
    (0 -> 128) by its own largest finite magnitude, for a diverging colormap.

    ``step`` > 1 returns every step-th row and column only (thumbnails), still scaled by the
    whole map's magnitude; only those pixels are converted.
    """
    if len(units) == 0:
        return np.zeros((0, 1, 1), np.uint8)
    flat = np.asarray(units, np.float32).reshape(len(units), -1)
    finite = np.isfinite(flat)
    if not finite.all():
        flat = np.where(finite, flat, np.float32(0))
    scale = np.maximum(flat.max(1), -flat.min(1))
    scale[~(scale > 0)] = 1.0
    values = np.asarray(units, np.float32)[:, ::step, ::step]
    out = values * (np.float32(127) / scale.astype(np.float32))[:, None, None]
    out += np.float32(128)
    np.nan_to_num(out, copy=False, nan=128.0, posinf=255.0, neginf=0.0)
    np.clip(np.rint(out, out=out), 0, 255, out=out)
    return np.ascontiguousarray(out.astype(np.uint8))


__all__ = ["CLASS_COLOURS", "class_colours", "map_colours", "render_map", "unit_tiles"]
