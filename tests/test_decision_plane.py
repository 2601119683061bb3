"""The three-image plane: it passes through the three images (their own predictions at the
corners), coarse then fine, training untouched; coinciding or collinear images refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import make_loader, wait_until

import nbviz
from nbviz.boundary.plane import PlaneGrid, check_three, plane_inputs, plane_probabilities
from nbviz.models import SmallCNN
from nbviz.views.decision_plane import DecisionPlane


def test_plane_passes_through_the_three_images_at_their_grid_points():
    torch.manual_seed(0)
    model = SmallCNN()
    a, b, c = torch.rand(3, 1, 28, 28)
    for res in (16, 64):
        grid = PlaneGrid(res)
        inputs = plane_inputs(a, b, c, grid).reshape(res, res, 1, 28, 28)
        corners = [grid.index_of(0, 0), grid.index_of(1, 0), grid.index_of(0, 1)]
        for (r, col), image in zip(corners, (a, b, c), strict=True):
            assert torch.allclose(inputs[r, col], image, atol=1e-6)
        probs = plane_probabilities(model, a, b, c, grid)
        assert probs.shape == (res, res, 10)
        model.eval()
        with torch.no_grad():
            own = torch.softmax(model(torch.stack([a, b, c])), 1).numpy()
        np.testing.assert_allclose(np.stack([probs[r, col] for r, col in corners]), own, atol=1e-5)


@pytest.mark.parametrize(("images", "match"), [
    (lambda a, b: (a, a.clone(), b), "coincide"),
    (lambda a, b: (a, b, 2 * b - a), "lie on one line"),
    (lambda a, b: (a, b, torch.rand(1, 14, 14)), "same shape"),
])
def test_coinciding_collinear_or_mismatched_images_are_refused(images, match):
    a, b = torch.rand(2, 1, 28, 28)
    with pytest.raises(ValueError, match=match):
        check_three(*images(a, b))


@pytest.mark.parametrize("resolution", [3, 257, 10.0])
def test_resolution_out_of_range_is_refused(resolution):
    with pytest.raises(ValueError, match="resolution must be a whole number from 4 to 256"):
        PlaneGrid(resolution)


def test_view_draws_coarse_then_full_and_leaves_training_alone():
    torch.manual_seed(0)
    session = nbviz.TrainingSession(SmallCNN(), make_loader(128), make_loader(64, shuffle=False), epochs=3)
    before = {k: v.clone() for k, v in session.model.state_dict().items()}
    view = DecisionPlane(session, indices=(0, 3, 7))
    try:
        wait_until(lambda: (view.refresh(), view.resolution_drawn == 64)[1], 60)
        assert view.map_view.count == 1 and view.map_view.tile_height == 256
        assert view.images_view.count == 3 and view.images_view.labels[0] == "A (#0)"
        inputs, _ = session.probe_batch(8)
        session.model.eval()
        with torch.no_grad():
            own = torch.softmax(session.model(inputs[[0, 3, 7]]), 1).numpy()
        session.model.train()
        np.testing.assert_allclose(view.corner_probabilities, own, atol=1e-5)
        for name, value in session.model.state_dict().items():
            assert torch.equal(value, before[name]), f"{name} changed"
        assert session.model.training
    finally:
        view.close()
    with pytest.raises(ValueError, match="three different sample indices"):
        DecisionPlane(session, indices=(1, 1, 2))
    with pytest.raises(ValueError, match=r"outside the probe batch"):
        DecisionPlane(session, indices=(0, 1, 5000), probe_size=64)


def test_plane_from_the_embedding_explorers_selection():
    from nbviz.views.embeddings import EmbeddingExplorer

    torch.manual_seed(0)
    session = nbviz.TrainingSession(SmallCNN(), make_loader(128), make_loader(64, shuffle=False), epochs=1)
    explorer = EmbeddingExplorer(session, n_samples=40)
    try:
        with pytest.raises(ValueError, match="select at least three points"):
            DecisionPlane.from_explorer(explorer)
        def shown() -> bool:
            explorer.refresh()
            try:
                explorer.selected = [4, 9, 30, 31]
            except Exception:  # the scatter has no points before the first layout is drawn
                return False
            return True

        wait_until(shown, 60)
        plane = DecisionPlane.from_explorer(explorer, resolution=16)
        try:
            assert plane.indices == [4, 9, 30]
            inputs, _ = session.probe_batch(40)
            assert all(torch.equal(image, inputs[i]) for image, i in zip(plane.images, [4, 9, 30], strict=True))
            wait_until(lambda: (plane.refresh(), plane.resolution_drawn == 16)[1], 60)
        finally:
            plane.close()
    finally:
        explorer.close()


def test_plane_stops_between_chunks_once_cancelled_and_closing_the_view_waits_for_its_worker():
    torch.manual_seed(0)
    model = SmallCNN()
    a, b, c = torch.rand(3, 1, 28, 28)
    calls = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > 2

    assert plane_probabilities(model, a, b, c, PlaneGrid(64), chunk=256, cancelled=cancelled) is None
    assert len(calls) == 3  # two chunks ran, the third was not started
    session = nbviz.TrainingSession(SmallCNN(), make_loader(64), make_loader(32, shuffle=False))
    view = DecisionPlane(session, [0, 1, 2])
    wait_until(lambda: (view.deliver_answers(), view._worker is not None)[1], 60)
    view.close()
    assert not view._worker.is_alive()
