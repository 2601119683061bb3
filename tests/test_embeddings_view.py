"""EmbeddingExplorer without a browser: layouts, progress, cancel, errors, epoch refresh, selection."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest
import torch
from helpers import wait_until
from torch import nn

import nbviz
from nbviz.embed import ProjectionCancelled, procrustes
from nbviz.models import MnistCNN
from nbviz.views.context import context_for
from nbviz.views.embeddings import EmbeddingExplorer
from nbviz.views.embeddings_data import (
    check_probe_memory,
    layer_options,
    point_colors,
    thumbnails_of,
)


@pytest.fixture
def session(digits_split):
    torch.manual_seed(0)
    train, val = digits_split.loaders(32)
    run = nbviz.TrainingSession(MnistCNN(), train, val, epochs=1)
    yield run
    run.stop()


# the background job projects through this module's project(); tests replace it there
project_mod = sys.modules["nbviz.embed.project"]


def explorer(session, **kwargs) -> EmbeddingExplorer:
    view = EmbeddingExplorer(session, n_samples=kwargs.pop("n_samples", 80), **kwargs)
    view.active = False  # the tests drive refresh() themselves
    return view


def test_default_layer_is_input_of_last_linear_and_pca_layout(session):
    view = explorer(session)
    assert view.layer_select.value == "fc2:input"
    view.compute(wait=True)
    assert view.coordinates.shape == (80, 2)
    assert view.scatter.n_points == 80
    assert view.last_error is None and "PCA of 80 points" in view.status.value
    labels = np.frombuffer(view.scatter.labels, np.int32)
    assert labels.tolist() == session.probe_batch(80)[1].tolist()
    assert len(np.frombuffer(view.scatter.predictions, np.int32)) == 80
    assert view.scatter.thumb_shape == [28, 28, 1]
    assert len(view.scatter.thumbnails) == 80 * 28 * 28
    view.close()


def test_tsne_progress_animates_and_cancel_keeps_previous_layout(session, monkeypatch):
    view = explorer(session)
    view.compute(wait=True)
    previous = view.coordinates
    started, release = threading.Event(), threading.Event()
    frames = []

    def fake_project(X, method, init=None, callback=None, cancel=None):
        callback(10, 100, np.ones((len(X), 2), np.float32))
        started.set()
        release.wait(60)
        if cancel.is_set():
            raise ProjectionCancelled("t-SNE cancelled")
        return np.zeros((len(X), 2), np.float32)

    monkeypatch.setattr(project_mod, "project", fake_project)
    view.method_select.value = "tsne"
    view.refresh()  # starts the job
    assert started.wait(60)
    view.refresh()  # pushes the intermediate frame and shows progress
    frames.append(np.frombuffer(view.scatter.positions, np.float32).copy())
    assert (frames[0] == 1).all()
    assert view.progress.value == 10 and view.progress.layout.visibility == "visible"
    assert not view.cancel_button.disabled
    view.cancel_button.click()
    release.set()
    view.wait()
    assert "cancelled" in view.status.value
    np.testing.assert_array_equal(view.coordinates, previous)
    np.testing.assert_allclose(np.frombuffer(view.scatter.positions, np.float32).reshape(-1, 2), previous)
    assert view.cancel_button.disabled and view.progress.layout.visibility == "hidden"
    view.close()


def test_failing_projection_keeps_layout_and_shows_error(session, monkeypatch):
    view = explorer(session)
    view.compute(wait=True)
    previous = view.coordinates

    def broken(*_args, **_kwargs):
        raise RuntimeError("solver exploded")

    monkeypatch.setattr(project_mod, "project", broken)
    view.compute(wait=True)
    assert "solver exploded" in view.status.value and "nbviz-error" in view.status.value
    assert "previous layout is kept" in view.status.value
    assert view.last_error.startswith("RuntimeError")
    np.testing.assert_array_equal(view.coordinates, previous)
    view.close()


class _Scalar(nn.Module):
    def forward(self, x):
        return x.sum()


class _Odd(nn.Module):
    def __init__(self):
        super().__init__()
        self.flat = nn.Flatten()
        self.fc = nn.Linear(784, 10)
        self.total = _Scalar()

    def forward(self, x):
        self.total(x)
        return self.fc(self.flat(x))


def test_layer_without_vectors_gets_a_clear_message(digits_split):
    train, val = digits_split.loaders(32)
    run = nbviz.TrainingSession(_Odd(), train, val, epochs=1)
    view = EmbeddingExplorer(run, n_samples=40, layer="total")
    view.active = False
    view.compute(wait=True)
    status = view.status.value
    assert "features failed" in status and "batch of vectors (n, d)" in status and "pick another layer" in status
    assert view.coordinates is None
    view.layer_select.value = "fc:input"
    view.refresh()
    view.wait()
    assert view.coordinates.shape == (40, 2)
    view.close()


def test_probe_set_too_large_is_refused_with_the_size():
    with pytest.raises(ValueError, match=r"100,000 samples of shape \(3, 224, 224\).* need 70\.\d+ GiB, but only 8\.00 GiB is available.*smaller n_samples"):
        check_probe_memory(100_000, (3, 224, 224), 4, available=8 * 2**30)
    assert check_probe_memory(100, (1, 28, 28), 4, available=8 * 2**30) > 0


def test_constructor_arguments_are_checked(session):
    with pytest.raises(ValueError, match="n_samples"):
        EmbeddingExplorer(session, n_samples=0)
    with pytest.raises(ValueError, match="method"):
        EmbeddingExplorer(session, method="mds")
    with pytest.raises(ValueError, match="color_by"):
        EmbeddingExplorer(session, color_by="size")
    with pytest.raises(ValueError, match="unknown layer 'nope'"):
        EmbeddingExplorer(session, layer="nope")
    with pytest.raises(TypeError, match="TrainingSession"):
        EmbeddingExplorer(object())


def test_epoch_end_only_flags_and_refresh_warm_starts(session, monkeypatch):
    view = explorer(session)
    view.compute(wait=True)
    before = view.coordinates
    seen = {}
    real = project_mod.project

    def recording(X, method, init=None, callback=None, cancel=None):
        seen["init"] = init
        return real(X, method, init=init, callback=callback, cancel=cancel)

    monkeypatch.setattr(project_mod, "project", recording)
    view._flag.on_epoch_end(session)  # what the training thread calls: no work done there
    assert not view.running and "init" not in seen
    view.refresh()
    view.wait()
    np.testing.assert_array_equal(seen["init"], before)
    assert "PCA of 80 points" in view.status.value and view.last_error is None
    view.auto_refresh.value = False
    seen.clear()
    view._flag.on_epoch_end(session)
    view.refresh()
    view.wait()
    assert seen == {}
    view.close()
    assert view._flag not in getattr(session, "_callbacks", [])


def test_selection_gallery_and_click_to_sample(session):
    view = explorer(session)
    view.compute(wait=True)
    view.scatter.selected = [5, 2, 9]  # as the browser would set it
    assert view.selected == [2, 5, 9]
    view.refresh()
    assert "3 selected" in view.gallery_title.value
    assert view.gallery.count == 3 and view.gallery.tile_height == 28
    view.scatter._handle_msg({"content": {"data": {"method": "custom", "content": {"type": "click", "index": 7}}},
                              "buffers": []})
    assert context_for(session).selection.sample == 7
    view._on_gallery_click(1)
    assert context_for(session).selection.sample == 5
    view.selected = []
    view.refresh()
    assert view.gallery.count == 0 and view.gallery_title.value == ""
    view.close()


def test_colour_by_choices(session):
    view = explorer(session)
    view.compute(wait=True)
    view.color_select.value = "correct"
    view.refresh()
    assert view.scatter.color_names == ["wrong", "correct"]
    view.color_select.value = "loss"
    view.refresh()
    assert view.scatter.color_mode == "value"
    assert np.frombuffer(view.scatter.color_values, np.float32).min() >= 0
    view.close()


def test_helpers():
    rot = np.array([[0, -1], [1, 0]], np.float32)
    Y = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    np.testing.assert_allclose(procrustes(Y @ rot, Y), Y, atol=1e-4)
    options = layer_options(MnistCNN())
    assert options[0] == ("input of fc2 (Linear)", "fc2:input")
    assert thumbnails_of(torch.zeros(4, 3, 8, 8)).shape == (4, 8, 8, 3)
    assert thumbnails_of(torch.zeros(4, 64)).shape == (4, 8, 8)
    assert thumbnails_of(torch.zeros(4, 10)) is None
    colors, note = point_colors("label", np.array([-1, -1]), None, [])
    assert "not class ids" in note and "values" in colors
    colors, note = point_colors("correct", np.array([1, 2]), None, ["a", "b", "c"])
    assert "class scores" in note and colors["title"] == "true label"


def test_dashboard_has_an_embeddings_tab(session):
    board = nbviz.Dashboard(session)
    assert "Embeddings" in board.tabs.titles
    view = board.view("Embeddings")
    assert isinstance(view, EmbeddingExplorer)
    board.close()


def test_wait_starts_the_first_layout_even_before_the_pump_ticks(session):
    view = explorer(session)
    assert view.coordinates is None
    view.wait()
    assert view.coordinates is not None and view.scatter.n_points == 80
    view.close()


def test_coordinates_do_not_shadow_the_ipywidgets_layout(session):
    import ipywidgets as widgets

    view = explorer(session)
    assert isinstance(view.layout, widgets.Layout)  # the box's own layout trait, usable as ever
    view.layout.width = "600px"
    view.compute(wait=True)
    assert view.coordinates.shape == (80, 2) and view.coordinates.dtype == np.float32
    assert view.layout.width == "600px"
    view.close()


def test_bad_values_from_the_front_end_leave_the_explorer_working(session):
    """index=None / out of range / a non-bool, as a browser may send them: refused, work goes on."""
    view = explorer(session)
    view.compute(wait=True)
    before = (view.layer, view.method, view.color_by, view.refresh_each_epoch)
    for control, state in [(view.layer_select, {"index": None}), (view.layer_select, {"index": 999}),
                           (view.layer_select, {"index": -1}), (view.method_select, {"index": None}),
                           (view.method_select, {"index": 7}), (view.color_select, {"index": None}),
                           (view.color_select, {"index": 1.5}), (view.auto_refresh, {"value": None}),
                           (view.auto_refresh, {"value": "yes"})]:
        control.set_state(state)
        assert control.value is not None, (control, state)
    assert (view.layer, view.method, view.color_by, view.refresh_each_epoch) == before
    assert not view._pending(include_epoch=True) and not view.running  # nothing was asked for
    # the state itself refuses what is not a choice, from Python too, and keeps its value
    import traitlets

    for name, bad in [("layer", "nope"), ("method", None), ("method", "mds"), ("color_by", "size")]:
        with pytest.raises(traitlets.TraitError):
            setattr(view, name, bad)
    assert (view.layer, view.method, view.color_by) == before[:3]
    # a valid choice from the front end still works, and the worker gets a valid layer
    view.layer_select.set_state({"index": 1})
    assert view.layer == view.layer_select.value != before[0]
    view.refresh()
    view.wait()
    assert view.last_error is None and view.coordinates.shape == (80, 2)
    assert f"at {view.layer}" in view.status.value
    view.close()


def test_a_second_compute_cancels_the_first_and_the_newer_layout_wins(session, monkeypatch):
    view = explorer(session)
    first_started, first_cancelled, first_returned = threading.Event(), threading.Event(), threading.Event()
    newer = np.arange(160, dtype=np.float32).reshape(80, 2)
    calls = []

    def fake_project(X, method, init=None, callback=None, cancel=None):
        calls.append(method)
        if len(calls) == 1:
            first_started.set()
            if cancel.wait(60):
                first_cancelled.set()
            try:  # a slow solver that ignores the cancel: its late result must not win
                return np.full((len(X), 2), -5.0, np.float32)
            finally:
                first_returned.set()
        return newer.copy()

    monkeypatch.setattr(project_mod, "project", fake_project)
    view.compute()
    assert first_started.wait(60) and view.running
    view.compute(wait=True)
    assert first_cancelled.is_set() and first_returned.wait(60)
    # the superseded thread winds down on its own
    wait_until(lambda: view.job.threads_alive == 0, what="the superseded projection thread ended")
    view.refresh()
    np.testing.assert_array_equal(view.coordinates, newer)
    np.testing.assert_array_equal(np.frombuffer(view.scatter.positions, np.float32).reshape(-1, 2), newer)
    assert view.last_error is None and "PCA of 80 points" in view.status.value
    view.close()


def test_closing_cancels_a_running_job_and_leaves_no_thread(session, monkeypatch):
    view = explorer(session, method="tsne")
    started, saw_cancel = threading.Event(), threading.Event()

    def endless(X, method, init=None, callback=None, cancel=None):
        started.set()
        for i in range(100_000):  # an optimiser that checks its cancel event every iteration
            if cancel.is_set():
                saw_cancel.set()
                raise ProjectionCancelled("cancelled")
            callback(i, 100_000, np.zeros((len(X), 2), np.float32))
            threading.Event().wait(0.01)
        return np.zeros((len(X), 2), np.float32)

    monkeypatch.setattr(project_mod, "project", endless)
    view.compute()
    assert started.wait(60) and view.running
    flag = view._flag
    view.close()
    assert saw_cancel.is_set() and view.job.threads_alive == 0
    assert not [t for t in threading.enumerate() if t.name.startswith("nbviz-tsne")]
    assert flag not in session._callbacks
    view.close()  # twice is fine
    view.compute()  # a closed view starts nothing, and waiting on it returns
    view.compute(wait=True, timeout=60)
    view.wait(timeout=60)
    assert view.job.threads_alive == 0 and not view.running


def test_closing_during_feature_extraction_while_training(digits_split):
    """Features are computed at the training loop's batch boundaries; closing mid-way stops them."""
    torch.manual_seed(0)
    train, val = digits_split.loaders(16)
    run = nbviz.TrainingSession(MnistCNN(), train, val, epochs=50)
    view = EmbeddingExplorer(run, n_samples=300, method="tsne")
    view.active = False
    seen = []
    view.job.on_update = lambda job: seen.append((job.stage, job.state))
    run.start()
    try:
        view.compute()
        for _ in range(200):
            if any(stage == "prepare" and state == "running" for stage, state in seen[1:]) or \
                    view.job.stage == "project":
                break
            threading.Event().wait(0.02)
        view.close()
        assert view.job.threads_alive == 0 and run.state == "running"
        assert not [t for t in threading.enumerate() if t.name.startswith("nbviz-tsne")]
    finally:
        run.stop()
    assert run.error is None


def test_the_refresh_after_an_epoch_warm_starts_from_the_last_layout(session, monkeypatch):
    view = explorer(session, method="tsne")
    view.compute(wait=True)
    before = view.coordinates
    assert "t-SNE of 80 points" in view.status.value and "warm" not in view.status.value
    inits = []
    real = project_mod.project

    def recording(X, method, init=None, callback=None, cancel=None, **options):
        inits.append(None if init is None else np.array(init))
        return real(X, method, init=init, callback=callback, cancel=cancel, **options)

    monkeypatch.setattr(project_mod, "project", recording)
    session.start()  # one epoch: the training thread's on_epoch_end flags the refresh
    session.wait()
    assert view._epoch.is_set() or view.running or inits  # flagged (or the pump already began)
    view.wait()  # training is over: the refresh owed for the epoch runs now
    assert len(inits) == 1 and inits[0] is not None
    np.testing.assert_array_equal(inits[0], before)
    assert "t-SNE (warm start) of 80 points" in view.status.value
    assert f"step {session.step_count}" in view.status.value and session.step_count > 0
    after = view.coordinates
    assert after.shape == before.shape and not np.array_equal(after, before)
    # warm-started and aligned: the points move, the picture does not jump
    assert np.median(np.linalg.norm(after - before, axis=1)) < np.median(np.linalg.norm(before - before.mean(0), axis=1))
    # a user's method switch is a fresh run, not a warm one
    inits.clear()
    view.method = "pca"
    view.wait()
    view.method = "tsne"
    view.wait()
    assert inits[-1] is None and "warm" not in view.status.value
    view.close()


def test_explorer_leaves_training_bit_identical(digits_split):
    """Features at batch boundaries under the probe rules: weights equal with and without it."""
    def train(with_view: bool) -> dict:
        torch.manual_seed(0)
        tr, va = digits_split.loaders(64)
        run = nbviz.TrainingSession(MnistCNN(), tr, va, epochs=2)
        view = EmbeddingExplorer(run, n_samples=100, method="pca") if with_view else None
        if view is not None:
            view.active = False
            run.start()
            for _ in range(3):
                view.compute(wait=True)  # computed while the training thread runs
        else:
            run.start()
        run.wait()
        if view is not None:
            view.wait()
            assert view.last_error is None
            view.close()
        return {k: v.clone() for k, v in run.model.state_dict().items()}

    plain, watched = train(False), train(True)
    assert plain.keys() == watched.keys()
    for key in plain:
        assert torch.equal(plain[key], watched[key]), key


def test_wait_times_out_with_advice_and_cancel_keeps_the_layout(session, monkeypatch):
    view = explorer(session)
    view.compute(wait=True)
    previous = view.coordinates

    def slow(X, method, init=None, callback=None, cancel=None):
        if cancel.wait(20):
            raise ProjectionCancelled("cancelled")
        return np.zeros((len(X), 2), np.float32)

    monkeypatch.setattr(project_mod, "project", slow)
    with pytest.raises(TimeoutError, match=r"explorer\.cancel\(\)"):
        view.compute(wait=True, timeout=0.5)
    view.cancel()
    view.wait(timeout=60)
    assert "cancelled" in view.status.value and "previous layout is kept" in view.status.value
    np.testing.assert_array_equal(view.coordinates, previous)
    view.close()


def test_clicks_on_several_threads_while_training_keep_state_and_controls_equal(digits_split):
    """Comm messages arrive on several subshell threads at once (JupyterLab >= 4.4)."""
    import random

    torch.manual_seed(0)
    train, val = digits_split.loaders(32)
    run = nbviz.TrainingSession(MnistCNN(), train, val, epochs=2)
    view = EmbeddingExplorer(run, n_samples=80)
    errors = []

    def clicks(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(300):
            control = rng.choice([view.layer_select, view.method_select, view.color_select])
            index = rng.choice([None, -1, 999, 0, 1, rng.randrange(len(control.options))])
            try:
                control.set_state({"index": index})
                if rng.random() < 0.1:
                    view.method = rng.choice(["pca", "tsne"])  # and from Python at the same time
            except Exception as exc:  # noqa: BLE001 - any error is the failure
                errors.append(repr(exc))

    run.start()
    try:
        threads = [threading.Thread(target=clicks, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert (view.layer, view.method, view.color_by) == \
            (view.layer_select.value, view.method_select.value, view.color_select.value)
        run.wait()
        view.wait(120)
        assert view.last_error is None and view.coordinates.shape == (80, 2)
        assert f"at {view.layer}" in view.status.value
    finally:
        run.stop()
        view.close()
    assert view.job.threads_alive == 0 and run.error is None


def test_the_progress_bar_names_the_t_sne_step_it_measures():
    from nbviz import embed
    from nbviz.views.embeddings import _progress_label

    def status(stage: str, step: str) -> embed.JobStatus:
        return embed.JobStatus("running", stage, "tsne", 0.1, None, None, None, None, None, None,
                               None, False, None, (100, 8), 1, step)

    assert _progress_label(status("prepare", "")) == "features"
    assert _progress_label(status("project", "neighbours")) == "neighbours"
    assert _progress_label(status("project", "affinities")) == "affinities"
    assert _progress_label(status("project", "optimise")) != "neighbours"
