"""Shared bqplot building blocks: figures with sane margins, explicit scale domains, legends.

bqplot computes a scale's domain from the data unless ``min``/``max`` are set. A chart whose
first update carries one point (or one constant value, or nothing) gets a zero-width domain
and the front end breaks for good: "invalid format: .undefinedg", ``translate(…,NaN)``,
every later point in one column, bars of NaN height on a log scale. So every chart here
sets its scales' domains itself, always non-degenerate and "nice" (rounded to tick steps, so
they change rarely), never below 0 for data >= 0. Legends are HTML keys under the figure
(never on the curves) listing only series that have data.

Only the UI pump thread calls the ``set_*``/``fit`` methods (they write widgets).
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import bqplot as bq
import ipywidgets as widgets
import numpy as np

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
LEGEND_MAX = 12
EMPTY_LINEAR = (0.0, 1.0)
EMPTY_LOG = (1e-3, 1e-1)
# Data are clipped to these magnitudes before a domain is fitted: beyond them a domain's width
# overflows (inf) or underflows, and the front end's scale maps points to +-1e303 px or NaN.
# Marks are sent as float32 (max 3.4e38), so HUGE stays inside float32's range.
HUGE, TINY = 1e37, 1e-30
MARGIN = {"top": 30, "bottom": 42, "left": 58, "right": 28}


def _finite(values: Iterable[np.ndarray] | np.ndarray, positive: bool = False) -> np.ndarray:
    """The finite values (positive ones for a log axis), clipped to +-HUGE (logs: >= 1/HUGE)."""
    arrays = [values] if isinstance(values, np.ndarray) else list(values)
    flat = [np.asarray(a, dtype=np.float64).ravel() for a in arrays if np.size(a)]
    data = np.concatenate(flat) if flat else np.zeros(0)
    data = data[np.isfinite(data)]
    if positive:
        return np.clip(data[data > 0], 1.0 / HUGE, HUGE)
    return np.clip(data, -HUGE, HUGE)


def nice_step(span: float, ticks: int = 5) -> float:
    """A 1, 2 or 5 times a power of ten tick step giving about ``ticks`` ticks over ``span``."""
    raw = max(span, 1e-300) / max(ticks, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 5.0, 10.0):
        if raw <= factor * power:
            return factor * power
    return 10.0 * power


def linear_domain(values: Iterable[np.ndarray] | np.ndarray, *, min_span: float = 0.0,
                  empty: tuple[float, float] = EMPTY_LINEAR, ticks: int = 5,
                  include_zero: bool = False) -> tuple[float, float]:
    """A non-degenerate, tick-rounded (lo, hi) covering the finite ``values``.

    Data that are all >= 0 get lo >= 0; all <= 0 get hi <= 0. One value (or a constant) gets a
    window around it; no finite value gets ``empty``. ``min_span`` widens narrow domains (for
    steps: at least a few whole steps, so integer ticks stay distinct); ``include_zero``
    stretches the domain to 0 (a step axis starts at the start of the run).
    """
    data = _finite(values)
    if not data.size:
        return empty
    if include_zero:
        data = np.append(data, 0.0)
    lo, hi = float(data.min()), float(data.max())
    span = hi - lo
    if span <= max(abs(lo), abs(hi)) * 1e-9 or span < TINY:  # one value, a constant, or noise on one
        middle = (lo + hi) / 2
        span = abs(middle) * 0.2 if abs(middle) >= TINY else 1.0
        lo, hi = middle - span / 2, middle + span / 2
    else:
        lo, hi = lo - span * 0.04, hi + span * 0.04
    if data.min() >= 0:
        lo = max(lo, 0.0)
    if data.max() <= 0 and data.min() < 0:  # all zeros keep their window above 0
        hi = min(hi, 0.0)
    if hi - lo < min_span:
        extra = min_span - (hi - lo)
        hi += extra if data.min() >= 0 else extra / 2
        lo -= 0 if data.min() >= 0 else extra / 2
    step = nice_step(hi - lo, ticks)
    lo, hi = math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step
    if hi <= lo:
        hi = lo + step
    return float(lo), float(hi)


def log_domain(values: Iterable[np.ndarray] | np.ndarray,
               empty: tuple[float, float] = EMPTY_LOG, room: float = 0.01) -> tuple[float, float]:
    """A (lo, hi) of powers of ten strictly around the positive finite ``values``, with at
    least ``room`` decades below the smallest (bars on a log axis stand on ``lo``: the
    smallest bar gets that height)."""
    data = _finite(values, positive=True)
    if not data.size:
        return empty
    lo = 10.0 ** math.floor(math.log10(float(data.min())) - room)
    hi = 10.0 ** math.ceil(math.log10(float(data.max())) + 0.01)
    return lo, hi


def step_domain(values: Iterable[np.ndarray] | np.ndarray) -> tuple[float, float]:
    """(0, the smallest 1, 2 or 5 times a power of ten above the largest value, at least 5)."""
    data = _finite(values)
    top = max(float(data.max()) if data.size else 0.0, 0.0) * 1.05
    hi = 5.0
    while hi < top:
        power = 10.0 ** math.floor(math.log10(hi))
        hi = next(f * power for f in (2.0, 5.0, 10.0) if f * power > hi + 1e-9)
    if data.size and data.min() < 0:
        return linear_domain(data, min_span=4.0)
    return 0.0, hi


def linear_ticks(lo: float, hi: float, ticks: int = 5) -> np.ndarray:
    """Round tick values from ``lo`` to ``hi`` (bqplot's num_ticks splits the domain evenly:
    0, 0.625, 1.25, ...)."""
    step = nice_step(hi - lo, ticks)
    first = math.ceil(lo / step - 1e-9)
    values = [round(k * step, 12) for k in range(first, int(math.floor(hi / step + 1e-9)) + 1)]
    return np.array(values, dtype=np.float64)


def set_ticks(axis: bq.Axis, values: np.ndarray) -> None:
    if axis.tick_values is None or not np.array_equal(axis.tick_values, values):
        axis.tick_values = values


def log_ticks(lo: float, hi: float, most: int = 7) -> list[float]:
    """Powers of ten from ``lo`` to ``hi``, thinned to at most ``most``."""
    first, last = round(math.log10(lo)), round(math.log10(hi))
    stride = max(1, math.ceil((last - first + 1) / most))
    return [10.0 ** e for e in range(first, last + 1, stride)]


def scale(log: bool = False, domain: tuple[float, float] = EMPTY_LINEAR) -> bq.Scale:
    """A linear or log scale with an explicit domain and no padding (bqplot pads the range by
    default, which shows ticks below 0 and past the data: "−0.025…1" on an empty chart)."""
    kind = bq.LogScale if log else bq.LinearScale
    return kind(min=float(domain[0]), max=float(domain[1]), allow_padding=False)


def keeps(current: tuple[float | None, float | None], values: Iterable[np.ndarray],
          fill: float = 0.6) -> bool:
    """True if the ``current`` domain still holds every finite value and the values fill at
    least ``fill`` of it: a domain that changes at every tick costs messages and makes the
    axes jitter, so charts only refit when the data outgrew (or shrank well inside) it."""
    lo, hi = current
    data = _finite(values)
    if lo is None or hi is None or not data.size or hi <= lo:
        return False
    low, high = float(data.min()), float(data.max())
    return lo <= low and high <= hi and (high - low) >= fill * (hi - lo)


def set_domain(scale: bq.Scale, lo: float, hi: float) -> None:
    """Set ``scale``'s min and max (one message, only if they changed)."""
    if scale.min != lo or scale.max != hi:
        with scale.hold_sync():
            scale.min, scale.max = float(lo), float(hi)


def figure(title: str, marks: list[bq.Mark], axes: list[bq.Axis], *, width: str = "32%",
           min_width: str = "260px", height: str = "280px", margin: dict | None = None) -> bq.Figure:
    """A figure with room for tick labels on every side and no animation."""
    return bq.Figure(marks=marks, axes=axes, title=title, fig_margin=dict(margin or MARGIN),
                     layout=widgets.Layout(width="100%", min_width=min_width, height=height),
                     animation_duration=0, padding_x=0.0, padding_y=0.0,
                     title_style={"font-size": "13px"})


def empty_array(kind: str = "float") -> np.ndarray:
    return np.zeros(0, np.float32) if kind == "float" else np.array([], dtype=str)


def legend_html(entries: Sequence[tuple[str, str, str]]) -> str:
    """An HTML key: (colour, label, shape) with shape "line", "dot", "dash" or "triangle"."""
    symbols = {"line": "━", "dot": "●", "dash": "╌", "triangle": "▼", "bar": "■"}
    items = "".join(
        f'<span style="margin-right:12px;white-space:nowrap"><span style="color:{colour}">'
        f'{symbols.get(shape, "━")}</span> {html.escape(label)}</span>'
        for colour, label, shape in entries)
    return (f'<div class="nbviz-legend" style="font-size:12px;line-height:1.4;display:flex;'
            f'flex-wrap:wrap">{items}</div>')


@dataclass
class _Series:
    mark: bq.Lines | bq.Scatter
    colour: str
    label: str
    shape: str
    x: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    y: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    names: list[str] = field(default_factory=list)  # one per line of a multi-line series


class LineChart(widgets.VBox):
    """A step/value chart of named series with explicit, nice domains and an HTML legend.

    Args:
        title: figure title.
        y_label: label of the y axis.
        y_log: a log y axis (values <= 0 are not drawn).
        y_range: a fixed y domain (e.g. (0, 1) for accuracy) instead of following the data.
        y_format: d3 format of the y ticks.
        empty_text: what the empty chart says instead of showing made-up axes.
        width: CSS width of the chart in its row.
    """

    def __init__(self, title: str, y_label: str, *, y_log: bool = False,
                 y_range: tuple[float, float] | None = None, y_format: str = ".3~g",
                 x_label: str = "step", empty_text: str = "no data yet", width: str = "32%",
                 height: str = "280px", x_scale: bq.LinearScale | None = None) -> None:
        self.title, self.y_log, self.y_range, self.empty_text = title, y_log, y_range, empty_text
        self.owns_x = x_scale is None  # a shared step scale is fitted by the chart that made it
        self.x_scale = scale() if x_scale is None else x_scale
        lo, hi = y_range or (EMPTY_LOG if y_log else EMPTY_LINEAR)
        self.y_scale = scale(y_log, (lo, hi))
        self.x_axis = bq.Axis(scale=self.x_scale, label=x_label, side="bottom", grid_lines="none",
                              num_ticks=6, tick_format="~s", visible=False)
        self.y_axis = bq.Axis(scale=self.y_scale, label=y_label, side="left", grid_lines="dashed",
                              tick_format=".0e" if y_log else y_format, visible=False,
                              tick_values=np.array(log_ticks(lo, hi)) if y_log else linear_ticks(lo, hi))
        self.series: dict[str, _Series] = {}
        self.figure = figure(f"{title} (no data yet)", [], [self.x_axis, self.y_axis], height=height)
        self.legend = widgets.HTML(self._empty_note())
        self._extra_legend: list[tuple[str, str, str]] = []
        super().__init__([self.figure, self.legend],
                         layout=widgets.Layout(width=width, min_width="260px"))
        self.add_class("nbviz-chart")

    # ---- building (any thread, before display) ------------------------------------------
    def add_line(self, name: str, colour: str, label: str, *, markers: bool = False,
                 dashed: bool = False) -> bq.Lines:
        mark = bq.Lines(x=empty_array(), y=empty_array(), scales={"x": self.x_scale, "y": self.y_scale},
                        colors=[colour], stroke_width=2, line_style="dashed" if dashed else "solid",
                        marker="circle" if markers else None, marker_size=20,
                        labels=[label], display_legend=False)
        self._add(name, mark, colour, label, "dot" if markers else "dash" if dashed else "line")
        return mark

    def add_points(self, name: str, colour: str, label: str, marker: str = "triangle-down") -> bq.Scatter:
        mark = bq.Scatter(x=empty_array(), y=empty_array(), scales={"x": self.x_scale, "y": self.y_scale},
                          colors=[colour], marker=marker, default_size=64, display_legend=False)
        self._add(name, mark, colour, label, "triangle" if "triangle" in marker else "dot")
        return mark

    def _add(self, name: str, mark: bq.Mark, colour: str, label: str, shape: str) -> None:
        self.series[name] = _Series(mark, colour, label, shape)
        self.figure.marks = [*self.figure.marks, mark]

    def _empty_note(self) -> str:
        return f'<div class="nbviz-legend" style="font-size:12px;color:#757575">{html.escape(self.empty_text)}</div>'

    # ---- updating (pump thread) -----------------------------------------------------------
    def set_series(self, name: str, x: np.ndarray, y: np.ndarray) -> None:
        """Replace one series' points; see :meth:`update`."""
        self.update({name: (x, y)})

    def set_lines(self, name: str, x: np.ndarray, y: np.ndarray, labels: Sequence[str]) -> None:
        """Replace a multi-line series: ``y`` is lines x points over the shared ``x``; each line
        gets a colour of the palette and a legend entry (up to a dozen)."""
        series = self.series[name]
        series.names = list(labels)
        colours = [PALETTE[i % len(PALETTE)] for i in range(len(labels))]
        if list(series.mark.colors) != colours:
            series.mark.colors = colours
        self.update({name: (x, y)})

    def update(self, data: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        """Replace the points of the named series, refit the domains, then send the marks'
        new data. Points with a non-finite x are dropped; so are, for one line, those with a
        non-finite y (on a log axis also y <= 0); lines of a multi-line series keep them at
        the bottom of the axis."""
        for name, (x, y) in data.items():
            x = np.asarray(x, dtype=np.float64).ravel()
            y = np.asarray(y, dtype=np.float64)
            if y.ndim == 2:
                keep = np.isfinite(x)
                x, y = x[keep], y[:, keep].copy()
                y[~np.isfinite(y) | ((y <= 0) if self.y_log else False)] = np.nan
            else:
                y = y.ravel()
                keep = np.isfinite(x) & np.isfinite(y) & ((y > 0) if self.y_log else True)
                x, y = x[keep], y[keep]
                # what float32 and the front end's scales can map to finite pixels
                y = np.clip(y, 1.0 / HUGE if self.y_log else -HUGE, HUGE)
            x = np.clip(x, -HUGE, HUGE)
            series = self.series[name]
            series.x, series.y = x, y
        self.fit()
        lo, hi = float(self.y_scale.min), float(self.y_scale.max)
        for name in data:
            series = self.series[name]
            y = series.y
            if y.ndim == 2:
                y = np.clip(np.nan_to_num(y, nan=lo), lo, hi)
            with series.mark.hold_sync():
                series.mark.x, series.mark.y = series.x.astype(np.float32), y.astype(np.float32)

    def fit(self) -> None:
        """Set the domains, axes, title and legend from the data now held (before the marks
        get new data, so a mark never meets a scale that cannot hold it)."""
        xs = [s.x for s in self.series.values() if s.x.size]
        ys = [s.y for s in self.series.values() if s.y.size]
        empty = not xs
        with self.figure.hold_sync():
            self.figure.title = f"{self.title} (no data yet)" if empty else self.title
            if empty:
                self.x_axis.visible = self.y_axis.visible = False
                self.legend.value = self._empty_note()
                return
            x_lo, x_hi = self.x_scale.min, self.x_scale.max
            if not (self.x_axis.visible and keeps((x_lo, x_hi), [*xs, np.zeros(1)], fill=0.5)):
                # 0 to a 1-2-5 ceiling: the step axis changes only when the run doubles, and
                # 6 evenly spaced ticks on it are round numbers
                x_lo, x_hi = step_domain(xs)
            if self.owns_x or x_hi > (self.x_scale.max or 0):
                set_domain(self.x_scale, x_lo, x_hi)
            if self.y_range is not None:
                lo, hi = self.y_range
            elif self.y_log:
                lo, hi = log_domain(ys)
            elif self.y_axis.visible and keeps((self.y_scale.min, self.y_scale.max), ys):
                lo, hi = self.y_scale.min, self.y_scale.max
            else:
                lo, hi = linear_domain(ys)
            set_domain(self.y_scale, lo, hi)
            set_ticks(self.y_axis, np.array(log_ticks(lo, hi)) if self.y_log else linear_ticks(lo, hi))
            self.x_axis.visible = self.y_axis.visible = True
        entries = []
        for series in self.series.values():
            if not series.x.size:
                continue
            if series.names:
                entries += [(PALETTE[i % len(PALETTE)], label, series.shape)
                            for i, label in enumerate(series.names[:LEGEND_MAX])]
                if len(series.names) > LEGEND_MAX:
                    entries.append(("#ffffff", f"and {len(series.names) - LEGEND_MAX} more", "line"))
            else:
                entries.append((series.colour, series.label, series.shape))
        text = legend_html(entries + self._extra_legend)
        if self.legend.value != text:
            self.legend.value = text


def short_labels(names: Sequence[str], width: int = 18) -> list[str]:
    """Names cut from the left to ``width`` characters ("…layer4.1.conv2"), kept distinct:
    the end of a dotted name is what tells neighbouring layers apart. A ".weight" every name
    ends with is dropped."""
    if names and all(name.endswith(".weight") for name in names):
        names = [name[: -len(".weight")] for name in names]
    labels = []
    for name in names:
        labels.append(name if len(name) <= width else "…" + name[-(width - 1):])
    seen: dict[str, int] = {}
    for i, label in enumerate(labels):  # still equal (same ending): number the repeats
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            labels[i] = f"{label}#{seen[label]}"
    return labels


def bottom_margin(labels: Sequence[str], rotate: float = 45.0, px_per_char: float = 6.2) -> int:
    """Room under the plot for tick labels rotated by ``rotate`` degrees (plus the axis label)."""
    longest = max((len(label) for label in labels), default=1)
    return int(min(160, 34 + longest * px_per_char * math.sin(math.radians(rotate))))


def left_margin(labels: Sequence[str], px_per_char: float = 6.2) -> int:
    """Room left of the plot for horizontal tick labels (plus the rotated axis label)."""
    longest = max((len(label) for label in labels), default=1)
    return int(min(220, 30 + longest * px_per_char))


BAR_ROW_PX = 17  # height of one bar's row in a horizontal bar chart


class BarChart(widgets.VBox):
    """Bars over named categories (layers), flagged bars in another colour, explicit y domain.

    On a log axis the bars stand on the domain's lower end (bqplot's default base 0 has no
    logarithm: the bars got NaN heights). Values a log axis cannot draw sit at the bottom.

    ``horizontal=True`` lays the bars out as rows, the names on the left in reading
    direction (first at the top) and the chart as tall as the rows need: every name stays
    readable however many layers (rotated names under vertical bars overlap past a dozen).
    """

    def __init__(self, title: str, y_label: str, *, x_label: str = "layer", y_log: bool = False,
                 y_range: tuple[float, float] | None = None, y_format: str = ".2g",
                 colours: tuple[str, str] = ("#1f77b4", "#d32f2f"), width: str = "50%",
                 height: str = "320px", empty_text: str = "no data yet", horizontal: bool = False,
                 label_chars: int = 0) -> None:
        self.title, self.y_log, self.y_range, self.empty_text = title, y_log, y_range, empty_text
        self.horizontal = horizontal
        # room for names this long from the start: a figure shown before its margin grew kept
        # the old margin in the front end at times (names cut at the left edge)
        self._min_left = left_margin(["m" * min(label_chars, 28)]) if label_chars else 0
        self.x_scale = bq.OrdinalScale()
        lo, hi = y_range or (EMPTY_LOG if y_log else EMPTY_LINEAR)
        self.y_scale = scale(y_log, (lo, hi))
        self.names: list[str] = []
        self.labels: list[str] = []  # the names as drawn, in the order given
        self.values = np.zeros(0, np.float32)
        if horizontal:
            self.x_axis = bq.Axis(scale=self.x_scale, label=x_label, orientation="vertical", side="left",
                                  tick_style={"font-size": "11px"}, visible=False)
            self.y_axis = bq.Axis(scale=self.y_scale, side="bottom", orientation="horizontal", label=y_label,
                                  visible=False, grid_lines="dashed", tick_format=".0e" if y_log else y_format,
                                  tick_values=np.array(log_ticks(lo, hi)) if y_log else linear_ticks(lo, hi, 4))
        else:
            self.x_axis = bq.Axis(scale=self.x_scale, label=x_label, tick_rotate=-45,
                                  tick_style={"font-size": "10px", "text-anchor": "end"}, visible=False)
            self.y_axis = bq.Axis(scale=self.y_scale, side="left", label=y_label, visible=False,
                                  tick_format=".0e" if y_log else y_format,
                                  tick_values=np.array(log_ticks(lo, hi)) if y_log else linear_ticks(lo, hi))
        self.bars = bq.Bars(x=np.array(["-"]), y=np.array([lo], np.float32), base=lo,
                            scales={"x": self.x_scale, "y": self.y_scale,
                                    "color": bq.ColorScale(colors=list(colours), min=0.0, max=1.0)},
                            color=np.zeros(1, np.float32), padding=0.2, opacities=[0.0],
                            orientation="horizontal" if horizontal else "vertical",
                            tooltip=bq.Tooltip(fields=["x", "y"], formats=["", ".3g"]))
        margin = {**MARGIN, "left": max(self._min_left, MARGIN["left"]), "bottom": 46} if horizontal else \
            {**MARGIN, "bottom": 60}
        self.figure = figure(f"{title} ({empty_text})", [self.bars], [self.x_axis, self.y_axis],
                             height=height, margin=margin)
        if horizontal:
            self.x_axis.label_offset = f"{margin['left'] - 12}px"
        super().__init__([self.figure], layout=widgets.Layout(width=width, min_width="320px"))
        self.add_class("nbviz-chart")

    def categories(self, values: Sequence[Any] | np.ndarray) -> np.ndarray:
        """``values`` (one per name, in the order given) in the order the bars are drawn: a
        vertical ordinal axis runs upwards, so horizontal charts reverse them."""
        array = np.asarray(values)
        return array[::-1].copy() if self.horizontal else array

    def set_bars(self, names: Sequence[str], values: np.ndarray, flagged: Sequence[bool] | None = None,
                 also: np.ndarray | None = None) -> None:
        """Show one bar per name (pump thread); ``flagged`` bars take the second colour;
        ``also``: other values drawn on this chart that the y domain must hold."""
        values = np.asarray(values, dtype=np.float64).ravel()
        if not len(names):
            return
        both = [values] if also is None else [values, np.asarray(also, dtype=np.float64)]
        if self.y_range is not None:
            lo, hi = self.y_range
        elif self.y_log:
            lo, hi = log_domain(both, room=0.5)  # the smallest bar (a vanishing gradient) stays visible
        else:
            lo, hi = linear_domain(both)
        shown = np.clip(np.nan_to_num(values, nan=lo, posinf=hi, neginf=lo), lo, hi).astype(np.float32)
        labels = short_labels(list(names), width=28 if self.horizontal else 18)
        self.names, self.labels, self.values = list(names), labels, shown
        colour = np.array(flagged if flagged is not None else [False] * len(names), np.float32)
        with self.figure.hold_sync():
            self.figure.title = self.title
            height = ""
            if self.horizontal:
                margin = {**MARGIN, "left": max(left_margin(labels), self._min_left), "bottom": 46}
                height = f"{margin['top'] + margin['bottom'] + BAR_ROW_PX * len(labels) + 10}px"
            else:
                margin = {**MARGIN, "bottom": bottom_margin(labels)}
            if self.figure.fig_margin != margin:
                self.figure.fig_margin = margin
                side = "left" if self.horizontal else "bottom"
                self.x_axis.label_offset = f"{margin[side] - 12}px"  # beyond the tick labels
            set_domain(self.y_scale, lo, hi)
            ticks = np.array(log_ticks(lo, hi)) if self.y_log else linear_ticks(lo, hi, 4 if self.horizontal else 5)
            set_ticks(self.y_axis, ticks)
            self.x_axis.visible = self.y_axis.visible = True
        if height and self.figure.layout.height != height:
            # after the margins: the resize re-lays the figure out with them (a margin change
            # alone left the names of a chart with a fixed domain cut at the left edge)
            self.figure.layout.height = height
        with self.bars.hold_sync(), self.bars.hold_trait_notifications():
            self.bars.base = lo if self.y_log else min(0.0, lo)
            self.bars.x = self.categories(labels)
            self.bars.y = self.categories(shown)
            self.bars.color = self.categories(colour)
            self.bars.opacities = [1.0]
