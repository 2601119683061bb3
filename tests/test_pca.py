"""PCA layouts: agree with scikit-learn, deterministic signs, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from nbviz.embed import ProjectionError, pca


def _data(n: int = 500, d: int = 12) -> np.ndarray:
    rng = np.random.default_rng(0)
    scales = np.linspace(3.0, 0.2, d)
    return (rng.standard_normal((n, d)) * scales) @ np.linalg.qr(rng.standard_normal((d, d)))[0]


def test_matches_sklearn_up_to_sign() -> None:
    from sklearn.decomposition import PCA

    X = _data()
    Y = pca(X)
    ref = PCA(n_components=2).fit_transform(X)
    assert Y.shape == (500, 2) and Y.dtype == np.float32
    for j in range(2):
        assert abs(np.corrcoef(Y[:, j], ref[:, j])[0, 1]) > 0.9999
        assert np.allclose(np.abs(Y[:, j]), np.abs(ref[:, j]), atol=1e-3)


def test_reference_keeps_axes_from_flipping() -> None:
    X = _data()
    Y = pca(X)
    assert np.array_equal(pca(X), Y)  # deterministic
    flipped = -Y
    Z = pca(X, reference=flipped)
    assert np.allclose(Z, flipped, atol=1e-5)


def test_fewer_dimensions_than_components() -> None:
    Y = pca(np.random.default_rng(1).standard_normal((50, 1)))
    assert Y.shape == (50, 2) and np.all(Y[:, 1] == 0)


@pytest.mark.parametrize("bad, words", [
    (np.full((10, 3), np.nan), "NaN"),
    (np.zeros((4, 3, 2)), "2-D"),
    (np.zeros((0, 3)), "0 point"),
    ([["a", "b"]], "numbers"),
])
def test_bad_input_is_named(bad: object, words: str) -> None:
    with pytest.raises(ProjectionError, match=words):
        pca(bad)
