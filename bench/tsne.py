"""t-SNE of 10k points x 64 dims: nbviz vs scikit-learn vs openTSNE, in one run, same data.

Data: 10,000 augmented scikit-learn digits (64 pixel dimensions, 10 classes; see
bench/_data.py), seeded. For each method: wall time end to end (neighbours, affinities,
optimisation) and the 10-nearest-neighbour recall of the layout (the share of each point's 10
nearest neighbours in the 64-D data that are among its 10 nearest in 2-D). Also the first
PCA layout and a warm-started t-SNE refresh (the next "epoch": the same samples with new
noise, initialised from the previous layout). The machine is shared, so the 1-minute load
average is printed next to every timing, and the process's CPU time (all its threads) next
to the wall time: a wall time well above the CPU time of a single-threaded run means the run
waited for a core.

Run: .venv/bin/python bench/tsne.py [--n 10000] [--skip-baselines]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _data import digits_64  # noqa: E402

from nbviz.embed import TSNE, pca  # noqa: E402
from nbviz.embed.affinity import knn  # noqa: E402


def recall(high: np.ndarray, Y: np.ndarray, k: int = 10) -> float:
    b = knn(torch.from_numpy(np.ascontiguousarray(Y, dtype=np.float32)), k)[0].numpy()
    return float((high[:, :, None] == b[:, None, :]).any(2).mean())


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def timed(name: str, fn, high: np.ndarray) -> tuple[float, float, np.ndarray]:
    before = load()
    start, cpu = time.perf_counter(), time.process_time()
    Y = np.asarray(fn(), dtype=np.float32)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    r = recall(high, Y)
    print(f"{name:<34s} {seconds:7.2f} s (cpu {cpu:6.2f} s)   10-NN recall {r:.4f}   "
          f"({before} -> {load()})", flush=True)
    return seconds, r, Y


def _baseline(method: str, path: str, out: str) -> None:
    """Child process: fit one baseline on the saved data; save the layout and the time."""
    X = np.load(path)
    start = time.perf_counter()
    if method == "sklearn":
        from sklearn.manifold import TSNE as SkTSNE

        Y = SkTSNE(perplexity=30, init="pca", random_state=0, n_jobs=2).fit_transform(X)
    else:
        import openTSNE

        Y = openTSNE.TSNE(perplexity=30, negative_gradient_method=method, n_jobs=2,
                          random_state=0).fit(X)
    seconds = time.perf_counter() - start
    np.save(out, np.asarray(Y, dtype=np.float32))
    Path(out + ".time").write_text(f"{seconds} {time.process_time()}")


def timed_child(name: str, method: str, X: np.ndarray, high: np.ndarray
                ) -> tuple[float, float, np.ndarray]:
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        data, out = f"{tmp}/X.npy", f"{tmp}/Y.npy"
        np.save(data, X)
        before = load()
        subprocess.run([sys.executable, __file__, "--child", method, data, out], check=True)
        seconds, cpu = map(float, Path(out + ".time").read_text().split())
        Y = np.load(out)
    r = recall(high, Y)
    print(f"{name:<34s} {seconds:7.2f} s (cpu {cpu:6.2f} s)   10-NN recall {r:.4f}   "
          f"({before} -> {load()})", flush=True)
    return seconds, r, Y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--skip-baselines", action="store_true",
                        help="time nbviz only (no scikit-learn / openTSNE runs)")
    args = parser.parse_args()
    X, _ = digits_64(args.n, seed=0)
    high = knn(torch.from_numpy(X), 10)[0].numpy()
    print(f"data: {X.shape[0]} augmented digits x {X.shape[1]} dims; {os.cpu_count()} CPUs; "
          f"torch threads {torch.get_num_threads()}; {load()} at start")

    t = time.perf_counter()
    Yp = pca(X)
    pca_s = time.perf_counter() - t
    print(f"{'first PCA layout':<34s} {pca_s:7.3f} s   10-NN recall {recall(high, Yp):.4f}   "
          f"({load()})  budget 0.5 s")

    ours, our_recall, Y = timed("nbviz TSNE", lambda: TSNE(perplexity=30, seed=0).fit(X), high)

    noise = np.random.default_rng(1).standard_normal(X.shape).astype(np.float32) * 0.5
    X_next = X + noise  # the same samples one "epoch" later
    high_next = knn(torch.from_numpy(X_next), 10)[0].numpy()
    warm_s, _, Y2 = timed("nbviz TSNE warm refresh", lambda: TSNE().fit(X_next, init=Y),
                          high_next)
    scale = np.linalg.norm(Y - Y.mean(0), axis=1).mean()
    moved = np.median(np.linalg.norm((Y2 - Y2.mean(0)) - (Y - Y.mean(0)), axis=1))
    print(f"{'':34s} median move {moved / scale:.3f} of the mean radius; budget 2 s")

    if args.skip_baselines:
        return
    import openTSNE

    # each baseline runs in a fresh child process on the same array: torch's OpenMP threads,
    # idling here after the nbviz runs, would otherwise compete with theirs
    sk_s, sk_recall, _ = timed_child("scikit-learn TSNE (defaults, pca)", "sklearn", X, high)
    results = {m: timed_child(f"openTSNE {openTSNE.__version__} ({m}, n_jobs=2)", m, X, high)
               for m in ("fft", "bh")}
    best = min(results, key=lambda m: results[m][0])
    ot_s, ot_recall, _ = results[best]
    print()
    print(f"nbviz t-SNE {ours:.2f} s (budget 7 s): {sk_s / ours:.1f}x faster than scikit-learn "
          f"({sk_s:.2f} s), {ot_s / ours:.1f}x faster than openTSNE at its best here "
          f"({best}, {ot_s:.2f} s)")
    print(f"10-NN recall: nbviz {our_recall:.4f}, scikit-learn {sk_recall:.4f} "
          f"(difference {our_recall - sk_recall:+.4f}; must be >= -0.02), "
          f"openTSNE {ot_recall:.4f}")
    print(f"first PCA layout {pca_s:.3f} s (budget 0.5 s); warm refresh {warm_s:.2f} s "
          f"(budget 2 s); {load()} at the end")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        _baseline(*sys.argv[2:])
    else:
        main()
