"""Small inline pictures for the report: PNG image grids and SVG curves, no plotting library."""

from __future__ import annotations

import base64
import html
import math
import struct
import zlib
from collections.abc import Sequence

import numpy as np
import torch


def png_bytes(pixels: np.ndarray) -> bytes:
    """Encode an H x W (grey) or H x W x 3 (RGB) uint8 array as PNG."""
    if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3):
        raise ValueError("png_bytes needs an H x W or H x W x 3 uint8 array")
    height, width = pixels.shape[:2]
    colour = 2 if pixels.ndim == 3 else 0
    rows = np.ascontiguousarray(pixels).reshape(height, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def _to_image(sample: torch.Tensor) -> np.ndarray | None:
    """One C x H x W (C in 1, 3) sample scaled to uint8 over its own range; None otherwise."""
    x = sample.detach().float().cpu()
    if x.dim() == 2:
        x = x.unsqueeze(0)
    if x.dim() != 3 or x.shape[0] not in (1, 3) or min(x.shape[1:]) < 4:
        return None
    x = torch.nan_to_num(x)
    lo, hi = float(x.min()), float(x.max())
    x = (x - lo) / (hi - lo) if hi > lo else torch.zeros_like(x)
    img = (x * 255).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    return img[:, :, 0] if img.shape[2] == 1 else img


def image_grid_html(inputs: torch.Tensor, labels: Sequence[str], n: int = 16,
                    scale: int = 2) -> str:
    """Up to ``n`` samples as inline PNGs with their labels; "" when they are not images."""
    cells = []
    for i in range(min(n, len(inputs))):
        img = _to_image(inputs[i])
        if img is None:
            return ""
        img = np.repeat(np.repeat(img, scale, axis=0), scale, axis=1)
        data = base64.b64encode(png_bytes(img)).decode()
        label = html.escape(labels[i] if i < len(labels) else "")
        cells.append(f'<figure style="display:inline-block;margin:2px;text-align:center">'
                     f'<img src="data:image/png;base64,{data}" style="image-rendering:pixelated">'
                     f'<figcaption style="font-size:10px">{label}</figcaption></figure>')
    return f'<div class="nbviz-check-grid">{"".join(cells)}</div>'


def curve_svg(xs: Sequence[float], ys: Sequence[float], *, title: str = "", log_x: bool = False,
              log_y: bool = False, mark_x: float | None = None, width: int = 320,
              height: int = 160) -> str:
    """A small SVG line plot of finite points; ``mark_x`` draws a vertical marker."""
    def tx(v: float) -> float:
        return math.log10(v) if log_x else v

    def ty(v: float) -> float:
        return math.log10(v) if log_y else v

    points = [(tx(x), ty(y)) for x, y in zip(xs, ys, strict=False)
              if math.isfinite(x) and math.isfinite(y) and (not log_x or x > 0)
              and (not log_y or y > 0)]
    if len(points) < 2:
        return ""
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)
    pad = 24

    def px(v: float) -> float:
        return pad + (v - x0) / (x1 - x0) * (width - 2 * pad)

    def py(v: float) -> float:
        return height - pad - (v - y0) / (y1 - y0) * (height - 2 * pad)

    path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
    marker = ""
    if mark_x is not None and (not log_x or mark_x > 0):
        m = px(tx(mark_x))
        marker = (f'<line x1="{m:.1f}" x2="{m:.1f}" y1="{pad}" y2="{height - pad}" '
                  'stroke="#e65100" stroke-dasharray="4,3"/>')

    def label(v: float, log: bool) -> str:
        return f"{10 ** v:.2g}" if log else f"{v:.3g}"

    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            'style="background:#fff;border:1px solid #ddd">'
            f'<text x="{width / 2}" y="14" font-size="11" text-anchor="middle">'
            f'{html.escape(title)}</text>'
            f'<polyline fill="none" stroke="#1565c0" stroke-width="1.5" points="{path}"/>{marker}'
            f'<text x="{pad}" y="{height - 6}" font-size="9">{label(x0, log_x)}</text>'
            f'<text x="{width - pad}" y="{height - 6}" font-size="9" text-anchor="end">'
            f'{label(x1, log_x)}</text>'
            f'<text x="2" y="{pad}" font-size="9">{label(y1, log_y)}</text>'
            f'<text x="2" y="{height - pad}" font-size="9">{label(y0, log_y)}</text></svg>')


def bars_svg(labels: Sequence[str], values: Sequence[float], *, title: str = "",
             width: int = 320, height: int = 120) -> str:
    """A small SVG bar chart (label distribution)."""
    if not values:
        return ""
    top = max(max(values), 1e-12)
    n = len(values)
    bw = (width - 20) / n
    bars = "".join(
        f'<rect x="{10 + i * bw:.1f}" y="{height - 20 - v / top * (height - 40):.1f}" '
        f'width="{max(bw - 2, 1):.1f}" height="{v / top * (height - 40):.1f}" fill="#1565c0"/>'
        f'<text x="{10 + (i + 0.5) * bw:.1f}" y="{height - 6}" font-size="9" '
        f'text-anchor="middle">{html.escape(str(lab))}</text>'
        for i, (lab, v) in enumerate(zip(labels, values, strict=False)))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'style="background:#fff;border:1px solid #ddd"><text x="{width / 2}" y="12" '
            f'font-size="11" text-anchor="middle">{html.escape(title)}</text>{bars}</svg>')
