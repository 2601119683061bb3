"""t-SNE: quality against scikit-learn, warm start, progress, cancel, bad input."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from nbviz.embed import TSNE, ProjectionCancelled, ProjectionError, project
from nbviz.embed.affinity import conditional_p, knn
from nbviz.embed.repulsion import GridRepulsion, exact_repulsion


def knn_recall(X: np.ndarray, Y: np.ndarray, k: int = 10) -> float:
    a = knn(torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)), k)[0].numpy()
    b = knn(torch.from_numpy(np.ascontiguousarray(Y, dtype=np.float32)), k)[0].numpy()
    return float((a[:, :, None] == b[:, None, :]).any(2).mean())


def label_agreement(Y: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    """Share of each point's k embedding neighbours with its own label."""
    idx = knn(torch.from_numpy(Y), k)[0].numpy()
    return float((labels[idx] == labels[:, None]).mean())


@pytest.fixture(scope="module")
def digits_1k() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.data[:1000].astype(np.float32), bunch.target[:1000]


@pytest.fixture(scope="module")
def layout(digits_1k: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return TSNE(perplexity=30).fit(digits_1k[0])


def test_neighbourhoods_as_good_as_sklearn(digits_1k, layout) -> None:
    from sklearn.manifold import TSNE as SkTSNE

    X, _ = digits_1k
    reference = SkTSNE(perplexity=30, init="pca", random_state=0, max_iter=1000).fit_transform(X)
    ours, theirs = knn_recall(X, layout), knn_recall(X, reference)
    assert layout.shape == (1000, 2) and layout.dtype == np.float32
    assert ours >= theirs - 0.02, (ours, theirs)


def test_classes_separate(digits_1k, layout) -> None:
    X, labels = digits_1k
    assert label_agreement(layout, labels) > 0.9
    # and clearly better than the PCA it starts from
    assert label_agreement(layout, labels) > label_agreement(project(X, "pca"), labels) + 0.2


def test_warm_start_moves_points_little(digits_1k, layout) -> None:
    X, _ = digits_1k
    seen: list[tuple[int, int]] = []
    again = TSNE().fit(X, init=layout, callback=lambda i, t, Y: seen.append((i, t)))
    scale = np.linalg.norm(layout - layout.mean(0), axis=1).mean()
    moved = np.linalg.norm((again - again.mean(0)) - (layout - layout.mean(0)), axis=1)
    assert np.median(moved) < 0.05 * scale
    assert seen and seen[-1][0] == seen[-1][1] < 250  # short, no early exaggeration


def test_progress_callback_sees_copies(digits_1k) -> None:
    X = digits_1k[0][:300]
    calls: list[tuple[int, int, np.ndarray]] = []
    Y = TSNE(n_iter=60, early_exaggeration_iter=40).fit(X, callback=lambda *a: calls.append(a))
    iterations = [c[0] for c in calls]
    assert iterations == sorted(iterations) and iterations[-1] == calls[-1][1] == 100
    assert iterations[:2] == [25, 50]
    assert np.array_equal(calls[-1][2], Y) and calls[-1][2] is not Y
    assert not np.array_equal(calls[0][2], Y)  # earlier frames differ: the scatter animates


def test_cancel_stops_within_an_iteration(digits_1k) -> None:
    cancel = threading.Event()
    frames: list[int] = []

    def callback(i: int, total: int, Y: np.ndarray) -> None:
        frames.append(i)
        cancel.set()

    with pytest.raises(ProjectionCancelled):
        TSNE().fit(digits_1k[0][:300], callback=callback, cancel=cancel)
    assert frames == [25]
    cancel.clear()
    cancel.set()
    with pytest.raises(ProjectionCancelled):
        TSNE().fit(digits_1k[0][:300], cancel=cancel)


@pytest.mark.parametrize("bad, words", [
    (np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 4.0]]), "NaN"),
    (np.ones((1, 5)), "at least 2"),
    (np.ones((10, 2, 2)), "2-D"),
    (np.ones(10), "2-D"),
])
def test_bad_input_is_named(bad: np.ndarray, words: str) -> None:
    with pytest.raises(ProjectionError, match=words):
        TSNE().fit(bad)


def test_bad_init_and_options() -> None:
    X = np.random.default_rng(0).standard_normal((50, 4))
    with pytest.raises(ProjectionError, match=r"\(50, 2\)"):
        TSNE().fit(X, init=np.zeros((49, 2)))
    with pytest.raises(ProjectionError, match="perplexity"):
        TSNE(perplexity=-1)
    with pytest.raises(ProjectionError, match="method"):
        project(X, "mds")


def test_tiny_inputs_still_lay_out() -> None:
    for n in (2, 3, 5):
        Y = TSNE().fit(np.random.default_rng(n).standard_normal((n, 3)))
        assert Y.shape == (n, 2) and np.isfinite(Y).all()


def test_grid_repulsion_matches_exact() -> None:
    rng = np.random.default_rng(0)
    for scale in (0.01, 1.0, 5.0):
        Y = (rng.standard_normal((600, 2)) * scale).astype(np.float32)
        Y[:300] += 3 * scale
        force, z = GridRepulsion()(Y)
        exact_force, exact_z = exact_repulsion(Y)
        assert abs(z - exact_z) / exact_z < 0.01
        assert np.linalg.norm(force - exact_force) / np.linalg.norm(exact_force) < 0.05


def test_affinities_reach_the_perplexity() -> None:
    X = torch.from_numpy(np.random.default_rng(0).standard_normal((400, 8)).astype(np.float32))
    _, d = knn(X, 90)
    p = conditional_p(d.numpy(), 30.0)
    perplexity = np.exp(-(p * np.log(np.maximum(p, 1e-30))).sum(1))
    assert np.allclose(p.sum(1), 1.0, atol=1e-5)
    assert np.allclose(perplexity, 30.0, rtol=0.01)
