"""project() front door and the background ProjectionJob: progress, cancel, failures keep the layout."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from nbviz.embed import ProjectionCancelled, ProjectionError, ProjectionJob, project, umap_available


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
    job.wait(60)
    good = job.layout
    job.start(_blobs(), "tsne", init=np.zeros((5, 2)))  # wrong init shape fails in the thread
    job.wait(60)
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
    assert started.wait(60)  # a partial layout arrived: the scatter can animate
    assert job.snapshot()[2] is not None
    job.cancel(wait=True)
    assert job.snapshot()[0] == "cancelled" and job.layout is None
    job.start(_blobs(), "pca")  # a new run after a cancelled one
    assert job.wait(60) and job.snapshot()[0] == "done"


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
    job.wait(60)
    job.start(X, "tsne", warm=True, **small)  # the last layout is PCA's: fresh t-SNE
    job.wait(60)
    job.start(X, "tsne", warm=True, **small)  # now warm
    job.wait(60)
    job.start(X[:200], "tsne", warm=True, **small)  # other points: fresh
    job.wait(60)
    assert inits == [None, None, (300, 2), None]
    assert job.layout_method == "tsne" and job.layout.shape == (200, 2)


def test_prepare_runs_in_the_job_thread_with_progress_and_its_data_is_kept() -> None:
    class Prepared:
        def __init__(self, values: np.ndarray) -> None:
            self.values = values

    threads: list[str] = []
    progress: list[float] = []
    job = ProjectionJob(on_update=lambda j: progress.append(j.progress) if j.stage == "prepare" else None)

    def prepare(cancel: threading.Event, report) -> Prepared:
        threads.append(threading.current_thread().name)
        report(0.5)
        return Prepared(_blobs())

    job.start(prepare, "pca")
    assert job.wait(60)
    status = job.status()
    assert threads == ["nbviz-pca"] and 0.5 in progress
    assert status.state == "done" and status.layout.shape == (300, 2)
    assert isinstance(status.data, Prepared) and status.shape == (300, 6)
    assert status.duration is not None and status.duration >= 0


def test_failures_while_preparing_are_reported_with_their_stage() -> None:
    job = ProjectionJob()
    job.start(_blobs(), "pca")
    job.wait(60)
    good = job.layout

    def broken(cancel, report):
        raise ValueError("layer 'x' gives no vectors")

    job.start(broken, "pca")
    job.wait(60)
    status = job.status()
    assert (status.state, status.stage, status.error_type) == ("failed", "prepare", "ValueError")
    assert status.reason == "layer 'x' gives no vectors" and status.layout is good
    job.start(lambda cancel, report: np.full((4, 2), np.inf), "pca")  # unusable prepared points
    job.wait(60)
    assert job.status().state == "failed" and "the points has NaN or infinite" in job.status().reason


def test_cancel_while_preparing() -> None:
    inside = threading.Event()
    job = ProjectionJob()

    def slow(cancel, report):
        inside.set()
        cancel.wait(60)
        return _blobs()

    job.start(slow, "pca")
    assert inside.wait(60)
    job.cancel(wait=True)
    assert job.status().state == "cancelled" and job.layout is None and job.threads_alive == 0


def test_a_new_start_supersedes_the_running_one_without_waiting_for_it() -> None:
    release = threading.Event()
    job = ProjectionJob()

    def stuck(cancel, report):
        release.wait(60)  # ignores cancel: e.g. blocked on a long training step
        return np.ones((300, 6), np.float32)

    job.start(stuck, "pca")
    job.start(_blobs(), "pca")  # returns at once although the first has not ended
    assert job.wait(60) and job.status().state == "done"
    newest = job.layout
    release.set()
    job.cancel(wait=True)
    assert job.threads_alive == 0 and job.layout is newest and job.status().state == "done"


def test_concurrent_starts_leave_one_run_in_force(monkeypatch) -> None:
    """Starts from several threads at once: every run but the last is cancelled, none leaks."""
    import sys

    project_mod = sys.modules["nbviz.embed.project"]
    outcomes: list[str] = []
    all_started = threading.Event()

    def patient(X, method, init=None, callback=None, cancel=None, **kw):
        # start() cancels the run it supersedes before it returns: once all four starts have
        # returned, every run but the last is cancelled (a fixed wait here raced the starters)
        assert all_started.wait(60), "the four starts never returned"
        if cancel.is_set():
            outcomes.append("cancelled")
            raise ProjectionCancelled("cancelled")
        outcomes.append("done")
        return np.zeros((len(X), 2), np.float32)

    monkeypatch.setattr(project_mod, "project", patient)
    job = ProjectionJob()
    X = _blobs()
    barrier = threading.Barrier(4)

    def starter() -> None:
        barrier.wait()
        job.start(X, "tsne")

    threads = [threading.Thread(target=starter) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    all_started.set()
    assert job.wait(60) and job.status().state == "done"
    job.cancel(wait=True)
    assert job.threads_alive == 0
    assert outcomes.count("done") == 1  # the others stopped before or inside project()


def test_align_rotates_the_new_layout_onto_the_previous(monkeypatch) -> None:
    import sys

    project_mod = sys.modules["nbviz.embed.project"]
    job = ProjectionJob()
    X = _blobs()
    job.start(X, "pca")
    job.wait(60)
    first = job.layout
    turn = np.array([[0, -1], [1, 0]], np.float32)  # the same picture, turned a quarter
    monkeypatch.setattr(project_mod, "project", lambda X, method, **kw: first @ turn + 3.0)
    job.start(X, "pca", align=True)
    job.wait(60)
    np.testing.assert_allclose(job.layout, first, atol=1e-3)
    job.start(X, "pca")  # without align the turned picture is kept as it came
    job.wait(60)
    np.testing.assert_allclose(job.layout, first @ turn + 3.0, atol=1e-5)


def test_pca_of_wide_features_matches_the_exact_axes() -> None:
    """Wide features (a ResNet's 512, a VGG's 4096 dims) take the randomized path: same layout."""
    import sys

    from sklearn.decomposition import PCA

    pca_mod = sys.modules["nbviz.embed.pca"]  # (the package's `pca` is the function)
    rng = np.random.default_rng(0)
    d = pca_mod.EXACT_DIMS * 4
    scales = 1.0 / np.sqrt(1 + np.arange(d))  # a slowly decaying spectrum: the hard case
    X = (rng.standard_normal((400, d)) * scales).astype(np.float32)
    Y = project(X, "pca")
    ref = PCA(n_components=2, svd_solver="full").fit_transform(X)
    assert Y.shape == (400, 2) and np.array_equal(project(X, "pca"), Y)  # deterministic
    for j in range(2):
        assert abs(np.corrcoef(Y[:, j], ref[:, j])[0, 1]) > 0.99999
        np.testing.assert_allclose(np.abs(Y[:, j]), np.abs(ref[:, j]), atol=1e-3 * np.abs(ref).max())
    few = project(X[:3], "pca")  # fewer points than the subspace width
    assert few.shape == (3, 2) and np.isfinite(few).all()


def test_jobs_still_running_at_exit_are_cancelled() -> None:
    import sys

    project_mod = sys.modules["nbviz.embed.project"]
    started = threading.Event()
    job = ProjectionJob()

    def endless(cancel, report):
        started.set()
        cancel.wait(60)
        return _blobs()

    job.start(endless, "pca")
    assert started.wait(60)
    project_mod._cancel_jobs_at_exit()  # what atexit runs before daemon threads are killed
    assert job.threads_alive == 0 and job.status().state == "cancelled"
