"""t-SNE benchmarks. Default: 100k x 64 with approximate vs exact neighbours, openTSNE alongside.

Default run (issue 15; about 3-4 minutes on a quiet 2-core machine):

* 100,000 augmented digits x 64 dims (bench/_data.py, seeded). nbviz t-SNE with the exact
  neighbour search and with the approximate (clustered) one, ``--rounds`` times each in
  alternating order (exact, approx, approx, exact, ...) in this process; each run prints wall
  and CPU time, split into the neighbour search + affinities and the optimisation, and the
  10-NN recall of its layout on a seeded sample of 2,000 points (the share of a point's 10
  nearest neighbours in 64-D found among its 10 nearest in 2-D). Then the median times, the
  exact/approx ratio per round with its spread, and the recall of the neighbour search itself.
* openTSNE (FFT, n_jobs=2) on the same 100k array in a child process, same recall sample.
* pynndescent's neighbour search on the same array in a child process: the first call
  (numba compiles on the first call of every process) and the second, separately.
* 10,000 points: layout 10-NN recall (all points) with exact vs approximate neighbours;
  the approximate must be within 0.02 of the exact.

``--small`` runs the earlier 10k suite instead (nbviz vs scikit-learn vs openTSNE, first PCA
layout, warm refresh). The machine may be shared: the 1-minute load average is printed next
to each timing, and CPU time next to wall time (CPU time is the less load-sensitive figure).

Run: .venv/bin/python bench/tsne.py [--n 100000] [--rounds 2] [--skip-baselines] [--small]
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
    if method == "pynndescent":
        from nbviz.embed.neighbours import pynndescent_knn

        first = time.perf_counter()
        idx = pynndescent_knn(torch.from_numpy(X), 90)[0]
        first = time.perf_counter() - first
        cpu = time.process_time()
        second = time.perf_counter()
        idx = pynndescent_knn(torch.from_numpy(X), 90, seed=1)[0]
        second, cpu = time.perf_counter() - second, time.process_time() - cpu
        np.save(out, idx.numpy()[:, :15])
        Path(out + ".time").write_text(f"{first} {second} {cpu}")
        return
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


def timed_child(name: str, method: str, X: np.ndarray, high: np.ndarray | None,
                sample: np.ndarray | None = None) -> tuple[float, float, np.ndarray]:
    """One baseline in a child process; recall on all points (``high``) or on ``sample``."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        data, out = f"{tmp}/X.npy", f"{tmp}/Y.npy"
        np.save(data, X)
        before = load()
        subprocess.run([sys.executable, __file__, "--child", method, data, out], check=True)
        seconds, cpu = map(float, Path(out + ".time").read_text().split())
        Y = np.load(out)
    if high is not None:
        r = recall(high, Y)
    else:
        assert sample is not None, "give high or sample"
        r = sample_recall(X, Y, sample)
    print(f"{name:<34s} {seconds:7.2f} s (cpu {cpu:6.2f} s)   10-NN recall {r:.4f}   "
          f"({before} -> {load()})", flush=True)
    return seconds, r, Y


def small_suite(n: int, skip_baselines: bool) -> None:
    """The 10k suite: nbviz vs scikit-learn vs openTSNE, first PCA layout, warm refresh."""
    X, _ = digits_64(n, seed=0)
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

    if skip_baselines:
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


def sample_recall(X: np.ndarray, Y: np.ndarray, sample: np.ndarray, k: int = 10) -> float:
    """10-NN recall of layout ``Y`` on the points ``sample`` (exact neighbours, both spaces)."""
    from scipy.spatial import cKDTree

    Xt = torch.from_numpy(X)
    sq = (Xt * Xt).sum(1)
    d = torch.addmm(sq[None, :], Xt[sample], Xt.T, alpha=-2.0) + sq[sample, None]
    d[torch.arange(len(sample)), torch.from_numpy(sample)] = float("inf")
    high = torch.topk(d, k, dim=1, largest=False).indices.numpy()
    low = cKDTree(Y).query(Y[sample], k + 1)[1][:, 1:]
    return float((high[:, :, None] == low[:, None, :]).any(2).mean())


def nbviz_run(name: str, X: np.ndarray, knn_method: str, sample: np.ndarray
              ) -> dict[str, float]:
    """One nbviz t-SNE; wall/CPU split at the end of the neighbour search + affinities."""
    marks: dict[str, tuple[float, float]] = {}
    before = load()
    w0, c0 = time.perf_counter(), time.process_time()

    def stage(name: str, fraction: float) -> None:
        if name == "affinities":
            marks["prep"] = (time.perf_counter() - w0, time.process_time() - c0)

    tsne = TSNE(perplexity=30, seed=0, knn=knn_method)
    Y = tsne.fit(X, progress=stage)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    r = sample_recall(X, Y, sample)
    prep_w, prep_c = marks["prep"]
    print(f"{name:<22s} {wall:7.2f} s (cpu {cpu:6.2f})  kNN+affinities {prep_w:6.2f} s "
          f"(cpu {prep_c:6.2f})  iterations {wall - prep_w:6.2f} s (cpu {cpu - prep_c:6.2f})  "
          f"recall {r:.4f}  [{tsne.knn_used_}; {before} -> {load()}]", flush=True)
    return {"wall": wall, "cpu": cpu, "prep": prep_w, "recall": r}


def _spread(values: list[float]) -> str:
    return f"{np.median(values):.2f} (range {min(values):.2f}-{max(values):.2f}, {len(values)} runs)"


def large_suite(n: int, rounds: int, skip_baselines: bool) -> None:
    from nbviz.embed.neighbours import clustered_knn

    X, _ = digits_64(n, seed=0)
    sample = np.random.default_rng(0).choice(n, size=min(n, 2000), replace=False)
    print(f"data: {n} augmented digits x {X.shape[1]} dims; {os.cpu_count()} CPUs; torch threads "
          f"{torch.get_num_threads()}; {load()} at start; layout recall on {len(sample)} points",
          flush=True)
    runs: dict[str, list[dict[str, float]]] = {"exact": [], "approximate": []}
    for r in range(rounds):  # alternate which goes first: exact, approx | approx, exact | ...
        order = ("exact", "approximate") if r % 2 == 0 else ("approximate", "exact")
        for method in order:
            runs[method].append(nbviz_run(f"nbviz {method} kNN", X, method, sample))
    exact_w = [run["wall"] for run in runs["exact"]]
    approx_w = [run["wall"] for run in runs["approximate"]]
    ratios = [e / a for e, a in zip(exact_w, approx_w, strict=True)]

    # the neighbour searches alone: recall of the approximate one against the exact one
    Xt = torch.from_numpy(X)
    t = time.perf_counter()
    approx_idx = clustered_knn(Xt, 90)[0].numpy()
    approx_knn_s = time.perf_counter() - t
    exact_sample = exact_knn_rows(Xt, sample, 90)
    knn_recall = {k: float((exact_sample[:, :k, None] == approx_idx[sample][:, None, :k])
                           .any(2).mean()) for k in (15, 90)}
    baselines: list[str] = []
    if not skip_baselines:
        import openTSNE

        ot_s, ot_recall, _ = timed_child(f"openTSNE {openTSNE.__version__} (fft, n_jobs=2)",
                                         "fft", X, None, sample)
        baselines.append(f"openTSNE (fft, n_jobs=2, same data, same run): {ot_s:.2f} s, layout "
                         f"recall {ot_recall:.4f}; approximate nbviz is "
                         f"{ot_s / np.median(approx_w):.1f}x faster")
        nnd = pynndescent_child(X, sample, exact_sample)
        if nnd:
            baselines.append(nnd)

    small = 10_000
    Xs, _ = digits_64(small, seed=0)
    high = knn(torch.from_numpy(Xs), 10)[0].numpy()
    small_recall = {}
    for method in ("exact", "approximate"):
        w = time.perf_counter()
        Ys = TSNE(perplexity=30, seed=0, knn=method).fit(Xs)
        small_recall[method] = recall(high, Ys)
        print(f"10k, nbviz {method} kNN: {time.perf_counter() - w:6.2f} s  layout 10-NN recall "
              f"{small_recall[method]:.4f}", flush=True)
    small_knn = clustered_knn(torch.from_numpy(Xs), 15)[0].numpy()
    small_knn_recall = float((knn(torch.from_numpy(Xs), 15)[0].numpy()[:, :, None]
                              == small_knn[:, None, :]).any(2).mean())

    print()
    print(f"t-SNE {n} x {X.shape[1]}: approximate kNN {_spread(approx_w)} s, exact kNN "
          f"{_spread(exact_w)} s; exact/approx {_spread(ratios)}x  (budget <= 15 s)")
    print(f"  CPU time: approximate {_spread([r['cpu'] for r in runs['approximate']])} s, "
          f"exact {_spread([r['cpu'] for r in runs['exact']])} s; kNN+affinities share "
          f"{np.median([r['prep'] / r['wall'] for r in runs['approximate']]):.2f} (approx)")
    print(f"  layout 10-NN recall ({len(sample)} points): approximate "
          f"{np.median([r['recall'] for r in runs['approximate']]):.4f}, exact "
          f"{np.median([r['recall'] for r in runs['exact']]):.4f}")
    print(f"  neighbour search alone: approximate {approx_knn_s:.2f} s, finds "
          f"{knn_recall[15]:.4f} of the true 15 nearest, {knn_recall[90]:.4f} of the 90")
    for line in baselines:
        print(f"  {line}")
    diff = small_recall["approximate"] - small_recall["exact"]
    print(f"10k layout 10-NN recall: approximate {small_recall['approximate']:.4f}, exact "
          f"{small_recall['exact']:.4f} (difference {diff:+.4f}; must be >= -0.02); the "
          f"approximate search finds {small_knn_recall:.4f} of the true 15 nearest at 10k")
    print(f"{load()} at the end")


def exact_knn_rows(Xt: torch.Tensor, rows: np.ndarray, k: int) -> np.ndarray:
    """Exact k nearest neighbours of the points ``rows`` (self excluded)."""
    sq = (Xt * Xt).sum(1)
    r = torch.from_numpy(rows)
    d = torch.addmm(sq[None, :], Xt[r], Xt.T, alpha=-2.0) + sq[r, None]
    d[torch.arange(len(rows)), r] = float("inf")
    return torch.topk(d, k, dim=1, largest=False, sorted=True).indices.numpy()


def pynndescent_child(X: np.ndarray, sample: np.ndarray, exact_sample: np.ndarray) -> str:
    """pynndescent's kNN search in a fresh process: first call (with compilation), second."""
    import subprocess
    import tempfile

    try:
        import pynndescent
    except ImportError:
        return "pynndescent: not installed (pip install 'nbviz[tsne]'), skipped"
    with tempfile.TemporaryDirectory() as tmp:
        data, out = f"{tmp}/X.npy", f"{tmp}/idx.npy"
        np.save(data, X)
        before = load()
        subprocess.run([sys.executable, __file__, "--child", "pynndescent", data, out],
                       check=True)
        first, second, cpu = map(float, Path(out + ".time").read_text().split())
        idx = np.load(out)
    found = float((exact_sample[:, :15, None] == idx[sample][:, None, :]).any(2).mean())
    print(f"{'pynndescent ' + pynndescent.__version__ + ' kNN':<22s} first call {first:6.2f} s "
          f"(numba compiling), second {second:6.2f} s (cpu {cpu:6.2f}); finds {found:.4f} of "
          f"the true 15 nearest  [{before} -> {load()}]", flush=True)
    return (f"pynndescent kNN alone: {first:.2f} s first call in a process (compilation "
            f"{first - second:.2f} s), {second:.2f} s after; finds {found:.4f} of the true 15")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=None,
                        help="points (default 100000; 10000 with --small)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="exact/approximate pairs at --n, alternating order")
    parser.add_argument("--small", action="store_true",
                        help="the 10k suite: nbviz vs scikit-learn vs openTSNE, PCA, warm refresh")
    parser.add_argument("--skip-baselines", action="store_true",
                        help="time nbviz only (no scikit-learn / openTSNE / pynndescent runs)")
    args = parser.parse_args()
    if args.small:
        small_suite(args.n or 10_000, args.skip_baselines)
    else:
        large_suite(args.n or 100_000, max(1, args.rounds), args.skip_baselines)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        _baseline(*sys.argv[2:])
    else:
        main()
