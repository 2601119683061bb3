"""TrainingCurves without a browser: explicit domains from the first point on, honest legends."""

from __future__ import annotations

import torch
from helpers import make_loader, wait_until

import nbviz
from nbviz.models import SmallCNN
from nbviz.views.curves import TrainingCurves


def _session(epochs: int = 3) -> nbviz.TrainingSession:
    torch.manual_seed(0)
    return nbviz.TrainingSession(SmallCNN(width=4), make_loader(64), make_loader(32), epochs=epochs, lr=0.05)


def test_empty_curves_show_no_axes_and_no_changes_legend():
    session = _session()
    curves = TrainingCurves(session)
    try:
        curves.refresh()
        for chart in (curves.loss, curves.accuracy, curves.lr):
            assert not chart.x_axis.visible and not chart.y_axis.visible
            assert "no data yet" in chart.figure.title
            assert "appears once training runs" in chart.legend.value
    finally:
        curves.close()


def test_first_epoch_single_points_and_constant_lr_get_non_degenerate_domains():
    session = _session(epochs=1)
    curves = TrainingCurves(session)
    try:
        session.start()
        session.wait()
        curves.refresh()
        assert len(curves.lines["train_accuracy"].x) == 1  # one epoch: one accuracy point
        for chart in (curves.loss, curves.accuracy, curves.lr):
            assert chart.x_scale.min is not None and chart.x_scale.min == 0
            assert chart.x_scale.max > chart.x_scale.min
            assert chart.y_scale.max > chart.y_scale.min >= 0
        lr = float(curves.lines["lr"].y[0])
        assert curves.lr.y_scale.min < lr < curves.lr.y_scale.max
        assert curves.loss.y_scale.max >= float(curves.lines["train_loss"].y.max())
        assert "changes" not in curves.loss.legend.value  # nothing changed
        assert "train" in curves.loss.legend.value and "validation" in curves.loss.legend.value
    finally:
        curves.close()


def test_a_change_of_learning_rate_is_marked_and_named_in_the_legend():
    session = _session(epochs=2)
    curves = TrainingCurves(session)
    try:
        session.step(3)
        wait_until(lambda: session.state == "paused")
        session.lr = 0.01
        session.step(3)
        wait_until(lambda: session.state == "paused" and session.step_count == 6)
        curves.refresh()
        assert len(curves.events.x) == 1 and "changes" in curves.loss.legend.value
        assert curves.lr.y_scale.min <= 0.01 and curves.lr.y_scale.max >= 0.05
    finally:
        session.stop()
        curves.close()
