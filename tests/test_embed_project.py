"""project() front door and the background ProjectionJob: progress, cancel, failures keep the layout."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from nbviz.embed import ProjectionError, ProjectionJob, project, umap_available


def _blobs(n: int = 300, d: int = 6) -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((3, d)) * 8
    return (centres[np.arange(n) % 3] + rng.standard_normal((n, d))).astype(np.float32)


def test_project_methods() -> None:
    X = _blobs()
    seen: list[int] = []
    Y = project(X, "pca", callback=lambda i, t, L: seen.append(t))
    assert Y.shape == (300, 2) and seen == [1]
    Y = project(X, "tsne", perplexity=10, n_iter=50, early_exaggeration_iter=50)
    assert Y.shape == (300, 2) and np.isfinite(Y).all()
    with pytest.raises(ProjectionError, match="t-SNE option"):
        project(X, "tsne", perplexty=10)
    with pytest.raises(ProjectionError, match="PCA takes no options"):
        project(X, "pca", perplexity=3)


@pytest.mark.skipif(umap_available(), reason="umap-learn is installed")
def test_umap_missing_is_explained() -> None:
    with pytest.raises(ProjectionError, match="pip install 'nbviz\\[umap\\]'"):
        project(_blobs(), "umap")


def test_job_runs_in_background_and_reports_progress() -> None:
    updates: list[int] = []
    job = ProjectionJob(on_update=lambda j: updates.append(j.version))
    job.start(_blobs(), "tsne", perplexity=10, n_iter=75, early_exaggeration_iter=50)
    assert job.wait(60)
    state, progress, layout, error, version = job.snapshot()
    assert (state, progress, error) == ("done", 1.0, None)
    assert layout.shape == (300, 2) and version == updates[-1] and len(updates) >= 5


def test_failure_keeps_previous_layout_and_reports() -> None:
    job = ProjectionJob()
    job.start(_blobs(), "pca")
    job.wait(30)
    good = job.layout
    job.start(_blobs(), "tsne", init=np.zeros((5, 2)))  # wrong init shape fails in the thread
    job.wait(30)
    state, _, layout, error, _ = job.snapshot()
    assert state == "failed" and "init must be the previous layout" in error
    assert layout is good and "Traceback" in job.traceback
    with pytest.raises(ProjectionError, match="NaN"):  # bad data is refused in the caller
        job.start(np.full((4, 2), np.nan), "pca")
    assert job.snapshot()[2] is good


def test_cancel_and_restart() -> None:
    started = threading.Event()
    job = ProjectionJob(on_update=lambda j: started.set() if j.partial is not None else None)
    job.start(_blobs(600), "tsne")
    assert started.wait(30)  # a partial layout arrived: the scatter can animate
    assert job.snapshot()[2] is not None
    job.cancel(wait=True)
    assert job.snapshot()[0] == "cancelled" and job.layout is None
    job.start(_blobs(), "pca")  # a new run after a cancelled one
    assert job.wait(30) and job.snapshot()[0] == "done"


def test_umap_path_with_a_stand_in_module(monkeypatch) -> None:
    """The umap-learn call (init, seed, neighbours) without needing the optional package."""
    import sys
    import types

    calls: dict[str, object] = {}

    class FakeUMAP:
        def __init__(self, **kwargs: object) -> None:
            calls.update(kwargs)

        def fit_transform(self, X: np.ndarray) -> np.ndarray:
            return X[:, :2] * 2.0

    monkeypatch.setitem(sys.modules, "umap", types.SimpleNamespace(UMAP=FakeUMAP))
    X = _blobs(50)
    previous = np.ones((50, 2), dtype=np.float32)
    frames: list[int] = []
    Y = project(X, "umap", init=previous, n_neighbors=80, callback=lambda i, t, L: frames.append(i))
    assert Y.dtype == np.float32 and np.allclose(Y, X[:, :2] * 2.0) and frames == [1]
    assert calls["n_neighbors"] == 49 and calls["random_state"] == 0
    assert np.array_equal(calls["init"], previous)
    with pytest.raises(ProjectionError, match=r"\(50, 2\)"):
        project(X, "umap", init=np.ones((3, 2)))


def test_warm_start_only_from_a_matching_layout(monkeypatch) -> None:
    import sys

    project_mod = sys.modules["nbviz.embed.project"]  # (the package's `project` is the function)
    inits: list[object] = []
    real = project_mod.project

    def spy(X, method="pca", *, init=None, **kw):
        inits.append(None if init is None else init.shape)
        return real(X, method, init=init, **kw)

    monkeypatch.setattr(project_mod, "project", spy)
    job = ProjectionJob()
    X = _blobs()
    small = dict(perplexity=10, n_iter=30, early_exaggeration_iter=30)
    job.start(X, "pca", warm=True)  # nothing to warm from
    job.wait(30)
    job.start(X, "tsne", warm=True, **small)  # the last layout is PCA's: fresh t-SNE
    job.wait(30)
    job.start(X, "tsne", warm=True, **small)  # now warm
    job.wait(30)
    job.start(X[:200], "tsne", warm=True, **small)  # other points: fresh
    job.wait(30)
    assert inits == [None, None, (300, 2), None]
    assert job.layout_method == "tsne" and job.layout.shape == (200, 2)
