"""LossLandscape view: surface, path, line, bad input, and bit-identical training while it computes."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import traitlets
from helpers import make_loader, wait_until
from torch import nn

import nbviz
from nbviz.landscape import evaluate_at, flat_parameters, model_copy, project
from nbviz.models import SmallCNN
from nbviz.views.landscape import BN_NOTE, LossLandscape


def session_for(model: nn.Module | None = None) -> nbviz.TrainingSession:
    torch.manual_seed(0)
    return nbviz.TrainingSession(model or SmallCNN(), make_loader(), make_loader(64, shuffle=False), epochs=2)


def finish(view: LossLandscape) -> None:
    wait_until(lambda: not view.busy, 120)
    view.refresh()


def test_surface_path_and_line_are_drawn() -> None:
    session = session_for()
    view = LossLandscape(session, probe_size=64, record_every=1)
    try:
        assert "eval mode" in view.note.value and "BatchNorm" in BN_NOTE
        session.step(6)
        wait_until(lambda: session.state == "paused" and session.step_count == 6, 60)
        view.size, view.directions = 9, "pca"
        view.compute()
        finish(view)
        assert "9 x 9" in view.status.value, view.status.value
        assert view.heat.visible and np.asarray(view.heat.color).shape == (9, 9)
        # the colour bar reads log10(loss): the bands span the surface's own range
        loss = view._job.loss
        assert view.colour_of == "log10 loss" and "bar: log10 loss" in view.legend.value
        assert view.color_scale.min == pytest.approx(np.log10(loss.min()), rel=1e-5, abs=1e-6)
        assert view.color_scale.max == pytest.approx(np.log10(loss.max()), rel=1e-5, abs=1e-6)
        assert np.asarray(view.heat.color).min() == pytest.approx(view.color_scale.min, abs=1e-5)
        cx, cy = np.asarray(view.contour_lines.x), np.asarray(view.contour_lines.y)
        assert np.isfinite(cx).sum() > 10 and cx.shape == cy.shape  # contour lines of the bands
        assert np.nanmax(np.abs(cx)) <= view.span + 1e-6
        assert view._job is not None and not np.isnan(view._job.loss).any()
        # every recorded point is drawn with its true distance from the plane (7 points are not
        # planar: the distances are not 0, except at the current weights, the plane's origin)
        steps, points = view.recorder.snapshots()
        assert steps.tolist() == list(range(7)) and len(view.path.x) == 7
        _a, _b, dist = project(points, view._plane)
        np.testing.assert_allclose(view.path.color, dist, rtol=1e-5, atol=1e-7)
        assert view.path.color[-1] == pytest.approx(0, abs=1e-5) and view.path.color[0] > 0
        assert len(view.current.x) == 1 and abs(float(view.current.x[0])) < 1e-4  # the plane's origin
        view.compute_line()
        finish(view)
        assert len(view.line_chart.series["loss"].x) == 25
        assert np.isfinite(view.line_chart.series["loss"].y).all()
    finally:
        view.close()
        session.stop()
    assert not view.recorder.attached


def test_bad_input_is_refused_and_state_kept() -> None:
    session = session_for()
    with pytest.raises(ValueError, match="probe_size"):
        LossLandscape(session, probe_size=8)
    view = LossLandscape(session, probe_size=64, record_every=1)
    try:
        for name, value in [("size", 40), ("span", 0.0), ("probe_size", 10), ("directions", "magic")]:
            before = getattr(view, name)
            with pytest.raises(traitlets.TraitError):
                setattr(view, name, value)
            assert getattr(view, name) == before
        view.directions = "pca"  # no path recorded yet: refused with a message, nothing lost
        view.compute()
        finish(view)
        assert "trajectory" in view.status.value and "nbviz-error" in view.status.value
        view.directions = "params"
        view.param1.value = view.param2.value = "features.0.0.weight"
        view.compute()
        finish(view)
        assert "same" in view.status.value
    finally:
        view.close()
        session.stop()
    frozen = nn.Sequential(nn.Flatten(), nn.Linear(784, 10)).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        LossLandscape(nbviz.TrainingSession(frozen, make_loader()))


def test_cancel_stops_the_surface() -> None:
    session = session_for()
    view = LossLandscape(session, probe_size=64, record_every=1)
    try:
        view.compute()
        wait_until(lambda: view._job is not None and view._job.done > 0, 60)
        view.cancel()
        finish(view)
        assert view._job.state == "cancelled" and "Cancelled" in view.status.value
    finally:
        view.close()
        session.stop()


def train(open_view: bool) -> dict[str, torch.Tensor]:
    session = session_for()
    view = LossLandscape(session, probe_size=64, record_every=1) if open_view else None
    if view is not None:
        view.size = 9
        view.compute()  # computing while training runs
    session.step(12)
    wait_until(lambda: session.state == "paused" and session.step_count == 12, 120)
    if view is not None:
        view.compute_line()
        finish(view)
        view.directions = "hessian"
        view.compute()
        finish(view)
        assert "eigenvalues" in view.status.value, view.status.value
    session.step(12)
    wait_until(lambda: session.state == "paused" and session.step_count == 24, 120)
    if view is not None:
        view.close()
    session.stop()
    return {k: v.clone() for k, v in session.model.state_dict().items()}


def test_training_is_bit_identical_with_the_view_computing() -> None:
    plain, viewed = train(False), train(True)
    for k in plain:
        assert torch.equal(plain[k], viewed[k]), k


def test_accuracy_and_two_parameter_mode() -> None:
    session = session_for()
    view = LossLandscape(session, probe_size=64, record_every=1)
    try:
        session.step(4)
        wait_until(lambda: session.state == "paused" and session.step_count == 4, 60)
        view.size, view.span, view.directions = 9, 0.5, "params"
        view.param1.value, view.index1.value = "classifier.3.weight", 2
        view.param2.value, view.index2.value = "classifier.3.bias", 1
        view.compute()
        finish(view)
        assert "loss on the plane (9 x 9" in view.figure.title, view.status.value
        assert view.x_axis.label.startswith("classifier.3.weight[2]")
        # the path in that plane: each snapshot's two values minus their current values
        _steps, points = view.recorder.snapshots()
        w = dict(session.model.named_parameters())
        offset = sum(p.numel() for n, p in session.model.named_parameters()
                     if n in list(w)[:list(w).index("classifier.3.weight")])
        np.testing.assert_allclose(view.path.x, points[:, offset + 2] - points[-1, offset + 2], atol=1e-6)
        view.show = "accuracy"
        view.refresh()
        assert view.figure.title.startswith("accuracy on the plane")
        colour = np.asarray(view.heat.color)  # accuracy bands: lower edges k/14, read on a 0..1 bar
        assert 0 <= colour.min() and colour.max() <= 13 / 14 + 1e-6
        assert np.allclose(colour * 14, np.round(colour * 14), atol=1e-4)
        assert (view.color_scale.min, view.color_scale.max, view.colour_of) == (0.0, 1.0, "accuracy")
    finally:
        view.close()
        session.stop()


def test_a_watched_loop_records_its_path_and_gets_a_surface() -> None:
    """nbviz.watch on the user's own loop (in this thread): the recorder follows it, Compute
    while the loop runs is served at its next batch boundary, the path and surface are drawn."""
    torch.manual_seed(0)
    model = SmallCNN()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    loader = make_loader(128, batch_size=16)
    viz = nbviz.watch(model, opt, probe_data=make_loader(64, shuffle=False))
    view = LossLandscape(viz, loss_fn=nn.CrossEntropyLoss(), probe_size=64, record_every=1)
    try:
        for epoch in viz.epoch_range(2):
            for x, y in viz.batches(loader):
                opt.zero_grad()
                nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
                viz.log(loss=0.0)
                if epoch == 1 and viz.step_count == 10:
                    view.size = 9
                    view.compute()  # the copy is taken at the loop's next batch boundary
        finish(view)
        assert view._job is not None and view._job.state == "done", view.status.value
        assert "9 x 9 at step" in view.status.value and view.heat.visible
        at_step = int(re.search(r"at step (\d+)", view.status.value).group(1))
        assert 10 <= at_step <= 16  # copied at a boundary of the running loop, not before it
        steps, points = view.recorder.snapshots()
        assert steps[0] == 0 and steps[-1] == viz.step_count == 16 and len(steps) == 17
        np.testing.assert_array_equal(points[-1], flat_parameters(model).numpy())
        assert len(view.path.x) == 17  # the path, drawn from the recorder
        assert view.current.x is not None and len(view.current.x) == 1
    finally:
        view.close()
    assert not view.recorder.attached


def test_line_from_a_checkpoint_to_now(tmp_path) -> None:
    session = session_for()
    view = LossLandscape(session, probe_size=64, record_every=1)
    try:
        session.step(5)
        wait_until(lambda: session.state == "paused" and session.step_count == 5, 60)
        saved = flat_parameters(session.model)
        path = session.save(tmp_path / "step5.pt")
        session.step(5)
        wait_until(lambda: session.state == "paused" and session.step_count == 10, 60)
        view.compute_line(str(path))
        finish(view)
        assert f"Line from {path}" in view.status.value, view.status.value
        alphas = np.asarray(view.line_chart.series["loss"].x)
        loss = np.asarray(view.line_chart.series["loss"].y)
        x, y = session.probe_batch(64)
        at = {float(a): float(v) for a, v in zip(alphas, loss, strict=True)}
        assert at[0.0] == pytest.approx(evaluate_at(model_copy(session.model), saved, x, y,
                                                    session.loss_fn)[0], rel=1e-4)
        assert at[1.0] == pytest.approx(evaluate_at(model_copy(session.model), None, x, y,
                                                    session.loss_fn)[0], rel=1e-4)
        assert at[0.0] != at[1.0]
        # a checkpoint of another model, and a missing file: refused with the reason, nothing lost
        other = tmp_path / "other.pt"
        torch.save(nn.Linear(3, 2).state_dict(), other)
        view.compute_line(str(other))
        finish(view)
        assert "does not fit this model" in view.status.value and "nbviz-error" in view.status.value
        view.compute_line(str(tmp_path / "missing.pt"))
        finish(view)
        assert "nbviz-error" in view.status.value and "missing.pt" in view.status.value
        np.testing.assert_array_equal(np.asarray(view.line_chart.series["loss"].y), loss)  # kept
    finally:
        view.close()
        session.stop()
