"""Shared bqplot building blocks: domains are never degenerate, never below 0 for data >= 0."""

from __future__ import annotations

import math

import bqplot as bq
import numpy as np
import pytest
from helpers import wait_until

from nbviz.views.charts import LineChart, linear_domain, log_domain, log_ticks


@pytest.mark.parametrize("values", [[3.0], [0.0], [2.5, 2.5, 2.5], [0.1, 2.3], [1e-9, 2e-9], [-5.0], [-1.0, 4.0]])
def test_linear_domain_is_never_degenerate_and_covers_the_data(values):
    lo, hi = linear_domain(np.array(values))
    assert math.isfinite(lo) and math.isfinite(hi) and hi > lo
    assert lo <= min(values) and hi >= max(values)
    if min(values) >= 0:
        assert lo >= 0  # no negative axis for loss, accuracy, steps


def test_linear_domain_ignores_non_finite_values_and_has_an_empty_default():
    assert linear_domain(np.array([np.nan, np.inf, 2.0, 4.0]))[1] >= 4.0
    assert linear_domain(np.zeros(0)) == (0.0, 1.0)
    assert linear_domain([np.array([np.nan])]) == (0.0, 1.0)


def test_step_domain_starts_at_zero_and_spans_whole_steps():
    lo, hi = linear_domain(np.array([1.0]), min_span=4.0)
    assert lo == 0 and hi >= 4


@pytest.mark.parametrize("values", [[0.05], [0.01], [0.05, 0.005], [1e-7, 3.0]])
def test_log_domain_is_powers_of_ten_strictly_around_the_data(values):
    lo, hi = log_domain(np.array(values))
    assert 0 < lo < min(values) and max(values) < hi
    assert math.log10(lo) == round(math.log10(lo)) and math.log10(hi) == round(math.log10(hi))
    assert 2 <= len(log_ticks(lo, hi)) <= 7


def test_log_domain_drops_values_a_log_axis_cannot_draw():
    assert log_domain(np.array([0.0, -1.0, np.nan])) == (1e-3, 1e-1)
    lo, hi = log_domain(np.array([0.0, 0.02]))
    assert lo < 0.02 < hi


def test_line_chart_one_point_then_more_keeps_sane_domains_and_legend():
    chart = LineChart("accuracy", "accuracy", y_range=(0.0, 1.0))
    chart.add_line("train", "#111111", "train", markers=True)
    chart.add_line("val", "#222222", "validation", markers=True)
    assert not chart.x_axis.visible and "no data" in chart.figure.title  # empty state, no made-up axes
    chart.set_series("train", np.array([45.0]), np.array([0.4]))
    assert chart.x_axis.visible and chart.figure.title == "accuracy"
    assert chart.x_scale.min == 0 and chart.x_scale.max > 45
    assert chart.x_scale.max == 50  # room to grow: steps 0..50, then 0..100, 0..200, ...
    assert (chart.y_scale.min, chart.y_scale.max) == (0.0, 1.0)
    assert "train" in chart.legend.value and "validation" not in chart.legend.value
    chart.set_series("train", np.array([45.0, 90.0, 135.0]), np.array([0.4, 0.6, 0.7]))
    assert chart.x_scale.min == 0 and chart.x_scale.max == 200
    assert all(not m.display_legend for m in chart.figure.marks)  # legend never on the curves


def test_log_chart_with_one_constant_value_and_nan_points():
    chart = LineChart("learning rate", "lr", y_log=True)
    line = chart.add_line("lr", "#111111", "lr")
    chart.set_series("lr", np.arange(5.0), np.array([0.05, 0.05, np.nan, 0.05, 0.0]))
    assert chart.y_scale.min < 0.05 < chart.y_scale.max
    assert len(line.x) == 3 and np.isfinite(line.y).all()
    assert list(chart.y_axis.tick_values) == [0.01, 0.1]


def test_linear_ticks_are_round_numbers_inside_the_domain():
    chart = LineChart("loss", "loss")
    chart.add_line("loss", "#111111", "train")
    chart.set_series("loss", np.arange(135.0), np.linspace(2.4, 0.1, 135))
    assert chart.x_axis.num_ticks == 6  # 0, 40, ..., 200: round, and no message per change
    assert list(chart.y_axis.tick_values) == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert chart.x_scale.max == 200 and chart.y_scale.max == 2.5  # the last tick is the edge


def test_all_zero_data_gets_a_real_window():
    # markers of changes made before any loss exists sit at height 0: the domain was (0, 2e-301)
    # and bqplot drew translate(0, -1e303)
    lo, hi = linear_domain(np.zeros(3))
    assert lo == 0.0 and hi >= 0.5


def test_changes_made_before_training_leave_finite_domains():
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    import nbviz
    from nbviz.views.curves import TrainingCurves

    data = TensorDataset(torch.rand(32, 1, 28, 28), torch.randint(0, 10, (32,)))
    session = nbviz.TrainingSession(nbviz.models.SmallCNN(), DataLoader(data, batch_size=16), epochs=1)
    session.lr = 0.03
    session.lr = 0.0316
    curves = TrainingCurves(session)
    curves.refresh()
    from nbviz.views.base import widget_tree
    scales = [w for w in widget_tree(curves) if isinstance(w, (bq.LinearScale, bq.LogScale))]
    assert all(s.max - s.min > 1e-6 for s in scales if s.min is not None and s.max is not None)
    curves.close()


NASTY = [[0.03], [0.0], [-0.0, 0.0], [1e-320], [1e-320, 2e-320], [5e-324, 1.0], [1e-300], [1e300],
         [0.0, 1.7e308], [-1e308, 1e308], [1.0, 1.0 + 1e-15], [3e38, 3.4e38], [-5.0], [1e-45, 1e-44]]


def _pixels(lo: float, hi: float, values: np.ndarray, log: bool) -> np.ndarray:
    """Where a front-end scale of domain (lo, hi) puts ``values`` on a 0..1 range, in float32
    (what the marks are sent as) mapped in float64 (what the browser computes in)."""
    v = values.astype(np.float32).astype(np.float64)
    if log:
        return (np.log10(v) - np.log10(lo)) / (np.log10(hi) - np.log10(lo))
    return (v - lo) / (hi - lo)


@pytest.mark.parametrize("values", NASTY)
@pytest.mark.parametrize("log", [False, True])
def test_one_point_or_extreme_values_never_give_non_finite_coordinates(values, log):
    # the learning-rate curve at step 0 is one point on a log axis; a loss may be 0, denormal
    # or huge: bqplot drew translate(0,-1.04e+303) for such domains
    chart = LineChart("learning rate" if log else "loss", "y", y_log=log)
    chart.add_line("y", "#000", "y")
    chart.update({"y": (np.arange(len(values), dtype=np.float64), np.array(values))})
    lo, hi = float(chart.y_scale.min), float(chart.y_scale.max)
    assert np.isfinite([lo, hi]).all() and hi > lo and (not log or lo > 0), (lo, hi)
    mark = chart.series["y"].mark
    y = np.asarray(mark.y, np.float64)
    assert np.isfinite(y).all() and np.isfinite(np.asarray(mark.x, np.float64)).all()
    if y.size:
        pixels = _pixels(lo, hi, y, log)
        assert np.isfinite(pixels).all() and (np.abs(pixels) < 10).all(), (lo, hi, y, pixels)
    x_lo, x_hi = float(chart.x_scale.min), float(chart.x_scale.max)
    assert np.isfinite([x_lo, x_hi]).all() and x_hi - x_lo >= 1
    chart.close()


def test_learning_rate_curve_at_step_zero_draws_finite_coordinates():
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    import nbviz
    from nbviz.views.base import widget_tree
    from nbviz.views.curves import TrainingCurves

    data = TensorDataset(torch.rand(32, 2), torch.randint(0, 2, (32,)))
    session = nbviz.TrainingSession(torch.nn.Linear(2, 2), DataLoader(data, batch_size=16), epochs=1)
    curves = TrainingCurves(session)
    session.lr = 0.0316  # a change before any step: a marker at step 0, height 0
    session.step(1)
    wait_until(lambda: session.state == "paused" and session.step_count == 1, 60)
    curves.refresh()
    x, lrs = session.history.get("lr")
    assert len(lrs) >= 1
    for chart in (curves.loss, curves.accuracy, curves.lr):
        lo, hi = float(chart.y_scale.min), float(chart.y_scale.max)
        assert np.isfinite([lo, hi]).all() and hi > lo
        for series in chart.series.values():
            y = np.asarray(series.mark.y, np.float64)
            if y.size and y.ndim == 1:
                assert np.isfinite(_pixels(lo, hi, y, chart.y_log)).all()
    scales = [w for w in widget_tree(curves) if isinstance(w, (bq.LinearScale, bq.LogScale))]
    assert all(np.isfinite([s.min, s.max]).all() and s.max > s.min for s in scales if s.min is not None)
    session.stop()
    curves.close()
