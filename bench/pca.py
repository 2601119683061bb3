"""PCA of wide features: nbviz.embed.pca (randomized subspace iteration past 256 dims) against
the exact d x d eigendecomposition, alternated on the same data; prints the speed-up and its
spread, and how closely the two agree (|cosine| of the first two axes' scores).

    .venv/bin/python bench/pca.py
"""

from __future__ import annotations

import time

import numpy as np

from nbviz.embed import pca


def exact(X: np.ndarray) -> np.ndarray:
    centred = X.astype(np.float64)
    centred -= centred.mean(0)
    values, vectors = np.linalg.eigh(centred.T @ centred)
    return centred @ vectors[:, np.argsort(values)[::-1][:2]]


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float(min(abs(np.dot(a[:, i], b[:, i])) / (np.linalg.norm(a[:, i]) * np.linalg.norm(b[:, i]))
                     for i in range(2)))


def main() -> None:
    for n, d in [(2000, 512), (2000, 1024), (2000, 4096)]:
        X = (np.random.default_rng(0).standard_normal((n, d)) / np.sqrt(1 + np.arange(d))).astype(np.float32)
        old, new = [], []
        for _ in range(3):
            start = time.perf_counter()
            reference = exact(X)
            old.append(time.perf_counter() - start)
            start = time.perf_counter()
            ours = np.asarray(pca(X))
            new.append(time.perf_counter() - start)
        ratio = np.array(old) / np.array(new)
        print(f"{n}x{d}: exact {np.median(old):.2f} s, nbviz {np.median(new):.3f} s, speed-up median "
              f"{np.median(ratio):.1f}x (min {ratio.min():.1f}, max {ratio.max():.1f}); "
              f"|cos| of axes >= {agreement(reference, ours):.6f}")


if __name__ == "__main__":
    main()
