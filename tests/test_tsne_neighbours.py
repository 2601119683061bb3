"""t-SNE's neighbour search: approximate vs exact, seeds, progress, cancel, the optional backend."""

from __future__ import annotations

import functools
import threading

import numpy as np
import pytest
import torch

from nbviz.embed import TSNE, ProjectionCancelled, ProjectionError, ProjectionJob
from nbviz.embed import neighbours as nb
from nbviz.embed.neighbours import EXACT_MAX, clustered_knn, exact_knn, nearest_neighbours


def blobs(n: int, d: int = 16, seed: int = 0) -> torch.Tensor:
    """Points on 20 Gaussian blobs of different widths (neighbourhoods with structure)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, d)) * 4
    which = rng.integers(0, 20, n)
    X = centres[which] + rng.standard_normal((n, d)) * (0.5 + which[:, None] / 20)
    return torch.from_numpy(X.astype(np.float32))


def overlap(a: torch.Tensor, b: torch.Tensor) -> float:
    a_, b_ = a.numpy(), b.numpy()
    return float((a_[:, :, None] == b_[:, None, :]).any(2).mean())


def knn_recall(X: np.ndarray, Y: np.ndarray, k: int = 10) -> float:
    high = exact_knn(torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)), k)[0]
    low = exact_knn(torch.from_numpy(np.ascontiguousarray(Y, dtype=np.float32)), k)[0]
    return overlap(high, low)


def test_clustered_knn_finds_most_true_neighbours_with_true_distances() -> None:
    X = blobs(6000)
    exact_idx, exact_d = exact_knn(X, 30)
    idx, d = clustered_knn(X, 30, cell_size=64, probe=6)
    assert idx.shape == (6000, 30) and idx.dtype == torch.int64 and d.dtype == torch.float32
    assert 0.8 < overlap(exact_idx[:, :10], idx[:, :10]) < 1.0  # approximate, and good
    assert not (idx == torch.arange(6000)[:, None]).any()  # never its own neighbour
    assert all(len(set(row)) == 30 for row in idx.tolist())  # no neighbour twice
    true = ((X[:, None, :] - X[idx]) ** 2).sum(-1)
    torch.testing.assert_close(d, true, rtol=1e-3, atol=1e-3)
    assert (d[:, 1:] >= d[:, :-1]).all()  # nearest first
    assert (d >= exact_d - 1e-3).all()  # a found k-th neighbour is never nearer than the true


def test_clustered_knn_is_reproducible_under_a_seed() -> None:
    X = blobs(3000)
    a = clustered_knn(X, 20, seed=3, cell_size=64, probe=4)
    b = clustered_knn(X, 20, seed=3, cell_size=64, probe=4)
    c = clustered_knn(X, 20, seed=4, cell_size=64, probe=4)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])  # the seed picks the cells


def test_clustered_knn_handles_duplicates_and_a_far_lonely_group() -> None:
    X = blobs(2000, d=4)
    X[:300] = X[0]  # many exact duplicates
    X[-5:] += 1000.0  # 5 points far from everything: their cell has fewer than k candidates
    idx, d = clustered_knn(X, 15, cell_size=32, probe=2)
    assert not (idx == torch.arange(2000)[:, None]).any()
    assert torch.isfinite(d).all()
    exact_d = exact_knn(X, 15)[1]
    torch.testing.assert_close(d[-5:], exact_d[-5:], rtol=1e-4, atol=1e-2)


def test_approximate_neighbours_keep_the_layout_as_good_as_exact(monkeypatch) -> None:
    from sklearn.datasets import load_digits

    X = load_digits().data.astype(np.float32)
    # small cells and few probes, so the search really is approximate at this size
    approx = functools.partial(nb.clustered_knn, cell_size=48, probe=5)
    exact_layout = TSNE(seed=0, knn="exact").fit(X)
    monkeypatch.setattr(nb, "clustered_knn", approx)
    tsne = TSNE(seed=0, knn="approximate")
    approx_layout = tsne.fit(X)
    assert tsne.knn_used_ == "approximate"
    k = round(3 * 30)
    found = approx(torch.from_numpy(X), k)[0]
    assert overlap(exact_knn(torch.from_numpy(X), k)[0][:, :15], found[:, :15]) < 0.99
    ours, exact = knn_recall(X, approx_layout), knn_recall(X, exact_layout)
    assert ours >= exact - 0.02, (ours, exact)
    again = TSNE(seed=0, knn="approximate").fit(X)
    assert np.array_equal(again, approx_layout)  # same seed, same layout


def test_auto_is_exact_for_small_inputs_and_approximate_for_large() -> None:
    assert nearest_neighbours(blobs(500), 5)[2] == "exact"
    idx, d, used = nearest_neighbours(blobs(EXACT_MAX, d=8), 5)
    assert used == "approximate" and idx.shape == (EXACT_MAX, 5)
    tsne = TSNE(n_iter=5, early_exaggeration_iter=5)
    tsne.fit(blobs(300).numpy())
    assert tsne.knn_used_ == "exact"
    with pytest.raises(ProjectionError, match="knn must be one of"):
        TSNE(knn="annoy")


def test_stage_progress_comes_before_the_first_frame_and_cancel_stops_the_search() -> None:
    X = blobs(5000, d=8).numpy()  # exact search in 3 blocks
    events: list[tuple[str, float]] = []
    TSNE(n_iter=10, early_exaggeration_iter=15).fit(
        X, progress=lambda stage, f: events.append((stage, f)),
        callback=lambda i, total, Y: events.append(("frame", i / total)))
    stages = [e[0] for e in events]
    first_frame = stages.index("frame")
    assert set(stages[:first_frame]) == {"neighbours", "affinities"}
    fractions = [f for s, f in events if s == "neighbours"]
    assert len(fractions) >= 3 and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert stages[first_frame - 1] == "affinities"

    cancel = threading.Event()
    seen: list[float] = []

    def stop(stage: str, fraction: float) -> None:
        seen.append(fraction)
        cancel.set()

    with pytest.raises(ProjectionCancelled):
        TSNE().fit(X, progress=stop, cancel=cancel)
    assert seen and seen[-1] < 1.0  # stopped inside the search, not after it


def test_job_progress_moves_during_the_neighbour_search() -> None:
    seen: list[tuple[str, float]] = []
    job = ProjectionJob(on_update=lambda j: seen.append((j.step, j.progress)))
    job.start(blobs(5000, d=8).numpy(), "tsne", n_iter=10, early_exaggeration_iter=15)
    assert job.wait(120)
    assert job.status().state == "done" and job.status().progress == 1.0
    search = [p for step, p in seen if step == "neighbours"]
    assert len(search) >= 3 and 0.0 < search[0] < search[-1] <= 0.2
    progress = [p for _, p in seen]
    assert progress == sorted(progress)  # one bar, never jumping back
    steps = [s for s, _ in seen if s]
    assert steps.index("neighbours") < steps.index("affinities") < steps.index("optimise")


def test_missing_pynndescent_falls_back_with_a_note(monkeypatch) -> None:
    monkeypatch.setattr(nb, "pynndescent_available", lambda: False)
    tsne = TSNE(knn="pynndescent", n_iter=5, early_exaggeration_iter=5)
    with pytest.warns(UserWarning, match="pynndescent is not installed"):
        Y = tsne.fit(blobs(300).numpy())
    assert Y.shape == (300, 2) and "pip install 'nbviz[tsne]'" in (tsne.knn_used_ or "")


def test_pynndescent_backend_matches_exact() -> None:
    pytest.importorskip("pynndescent")
    X = blobs(1500, d=8)
    X[1] = X[0]  # a duplicate: either may come first, neither is its own neighbour
    idx, d, used = nearest_neighbours(X, 10, "pynndescent")
    assert used == "pynndescent" and idx.shape == (1500, 10)
    assert not (idx == torch.arange(1500)[:, None]).any()
    exact_idx, exact_d = exact_knn(X, 10)
    assert overlap(exact_idx, idx) > 0.95
    torch.testing.assert_close(d[:, 0], exact_d[:, 0], rtol=1e-3, atol=1e-3)


def test_large_inputs_are_optimised_in_a_local_order_but_returned_in_theirs() -> None:
    from nbviz.embed.tsne import LOCALITY_MIN

    rng = np.random.default_rng(1)
    n = LOCALITY_MIN + 904
    labels = rng.integers(0, 8, n)
    X = (rng.standard_normal((8, 10)) * 6)[labels] + rng.standard_normal((n, 10))
    frames: list[np.ndarray] = []
    Y = TSNE(n_iter=150, early_exaggeration_iter=100, callback_every=50).fit(
        X, callback=lambda i, total, layout: frames.append(layout))
    idx = exact_knn(torch.from_numpy(Y), 5)[0].numpy()
    assert (labels[idx] == labels[:, None]).mean() > 0.95  # rows were put back in place
    assert np.array_equal(frames[-1], Y)
    early = exact_knn(torch.from_numpy(frames[1]), 5)[0].numpy()
    assert (labels[early] == labels[:, None]).mean() > 0.9  # frames too
