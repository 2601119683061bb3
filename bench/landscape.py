"""Loss landscape cost and fidelity, and the trajectory recorder's observer effect.

Trains the reference CNN (nbviz.models.SmallCNN) on nbviz.datasets.digits() for a few epochs,
then on filter-normalised random directions (range ±1):

1. Per grid point, the previous evaluation (one model copy, flat vector copied in, batches of
   512 in the default layout) against the fast path (landscape.evaluate.ProbeEvaluator), both
   with one op thread, alternated: thread CPU ms per point and the ratio (median, spread).
2. A 41 x 41 grid on a 1,024-sample probe as the view computes it (SurfaceJob, nested levels,
   single-threaded workers): wall and CPU time, when the 3 x 3, 9 x 9 and 17 x 17 levels were
   complete.
3. The same 41 x 41 grid on the full training set (the Li et al. cost): wall and CPU time, the
   time ratio and the Spearman rank correlation of the two surfaces (budget >= 0.95).
4. Training with and without a TrajectoryRecorder (default time budget), interleaved rounds:
   samples/s of each, the ratio with its spread (budget >= 0.99), the process CPU time of a
   run with/without, and the recorder's own CPU per snapshot and as a share of the run's
   process CPU time (the last two are the less load-sensitive figures).

The default run took 2 min 41 s at load 7-8 on 2 cores (less when idle). CPU times are much less
sensitive to other load than wall times; the load average is printed at start and end.

    PYTHONPATH=. .venv/bin/python bench/landscape.py [--size 41] [--probe 1024] [--epochs 2]
        [--rounds 6] [--points 5] [--no-full]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn

import nbviz
from nbviz.landscape import (
    Plane,
    SurfaceJob,
    TrajectoryRecorder,
    flat_parameters,
    model_copy,
    random_directions,
)
from nbviz.landscape.evaluate import ProbeEvaluator, logits_of, set_flat
from nbviz.models import SmallCNN

LOSS = nn.functional.cross_entropy


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.3f} (min {min(values):.3f}, max {max(values):.3f}, n={len(values)})"


def previous_point(model: nn.Module, vector: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> float:
    """The evaluation the view used before: flat copy in, batches of 512, default layout."""
    set_flat(model, vector)
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(x), 512):
            total += float(LOSS(logits_of(model(x[i:i + 512])), y[i:i + 512])) * len(x[i:i + 512])
    return total / len(x)


def per_point(model: nn.Module, plane: Plane, x: torch.Tensor, y: torch.Tensor, points: int) -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # thread CPU time then holds all the work
    try:
        old = model_copy(model)
        fast = ProbeEvaluator(model_copy(model), x, y, LOSS)
        fast.set_plane(plane.origin, plane.d1, plane.d2)
        previous_point(old, plane.point(0.1, 0.1), x, y)
        fast.at(0.1, 0.1)
        t_old, t_new, diffs = [], [], []
        for k in range(points):
            a, b = 0.7 * np.cos(k), 0.7 * np.sin(k)
            c0 = time.thread_time()
            ref = previous_point(old, plane.point(a, b), x, y)
            t_old.append(time.thread_time() - c0)
            c0 = time.thread_time()
            got = fast.at(a, b)[0]
            t_new.append(time.thread_time() - c0)
            diffs.append(abs(got - ref) / max(abs(ref), 1e-12))
    finally:
        torch.set_num_threads(before)
    print(f"1. one grid point, {len(x)} samples, 1 op thread, thread CPU ms: previous "
          f"{1e3 * statistics.median(t_old):.1f}, fast {1e3 * statistics.median(t_new):.1f}; "
          f"previous/fast {spread([o / n for o, n in zip(t_old, t_new, strict=True)])}; "
          f"largest relative loss difference {max(diffs):.1e}")


def surface(model: nn.Module, plane: Plane, x: torch.Tensor, y: torch.Tensor, size: int
            ) -> tuple[np.ndarray, float, float, dict[int, float], int]:
    """(loss grid, wall s, process CPU s, level side -> seconds when complete, workers)."""
    job = SurfaceJob(model_copy(model), plane, x, y, LOSS, size=size, coarse=9, span=1.0)
    levels: dict[int, float] = {}
    t0, c0 = time.perf_counter(), time.process_time()

    def progress() -> None:
        side = job.level_size()
        if side not in levels:
            levels[side] = time.perf_counter() - t0

    job._on_progress = progress
    job.run()
    assert job.state == "done", job.error
    return job.loss.copy(), time.perf_counter() - t0, time.process_time() - c0, levels, job.workers


def train_rate(split: nbviz.datasets.DataSplit, record: bool, epochs: int
               ) -> tuple[float, float, TrajectoryRecorder | None]:
    """(samples/s, process CPU s over the run (training and its op threads), recorder)."""
    torch.manual_seed(0)
    train_loader, _ = split.loaders(batch_size=32)
    session = nbviz.TrainingSession(SmallCNN(), train_loader, epochs=epochs, lr=0.05)
    rec = TrajectoryRecorder(session.model).attach(session) if record else None
    t0, c0 = time.perf_counter(), time.process_time()
    session.start()
    session.wait()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    if rec is not None:
        rec.detach()
    return epochs * len(train_loader.dataset) / elapsed, cpu, rec


def recorder(split: nbviz.datasets.DataSplit, rounds: int, epochs: int) -> None:
    plain, recorded, shares, per_snapshot, kept = [], [], [], [], 0
    cpu_ratios = []
    train_rate(split, False, 1)  # warm-up
    for _ in range(rounds):  # interleaved rounds
        rate0, cpu0, _rec = train_rate(split, False, epochs)
        plain.append(rate0)
        rate, cpu, rec = train_rate(split, True, epochs)
        recorded.append(rate)
        cpu_ratios.append(cpu / cpu0)
        assert rec is not None
        kept += rec.samples_taken
        shares.append(rec.cpu_spent / cpu)
        per_snapshot.append(rec.cpu_spent / max(rec.samples_taken, 1))
    ratios = [r / p for p, r in zip(plain, recorded, strict=True)]
    print(f"4. training without recorder: {statistics.median(plain):7.0f} samples/s (median of {rounds} runs "
          f"of {epochs} epochs)")
    print(f"   training with recorder   : {statistics.median(recorded):7.0f} samples/s ({kept} snapshots, "
          f"{1e3 * statistics.median(per_snapshot):.3f} ms training-thread CPU each)")
    print(f"   samples/s ratio with/without: {spread(ratios)}; budget >= 0.99")
    print(f"   process CPU time with/without (same samples): {spread(cpu_ratios)}")
    print(f"   recorder CPU / process CPU of the run: {spread([100 * s for s in shares])} %; budget <= 1 %")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=41)
    parser.add_argument("--probe", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=2, help="training before the surfaces")
    parser.add_argument("--rounds", type=int, default=6, help="interleaved recorder rounds")
    parser.add_argument("--round-epochs", type=int, default=2)
    parser.add_argument("--points", type=int, default=5, help="alternations in section 1")
    parser.add_argument("--no-full", action="store_true", help="skip the full-data grid (section 3)")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; "
          f"{torch.get_num_threads()} torch threads")
    split = nbviz.datasets.digits()
    torch.manual_seed(0)
    train_loader, _ = split.loaders(batch_size=32)
    session = nbviz.TrainingSession(SmallCNN(), train_loader, epochs=args.epochs, lr=0.05)
    session.start()
    session.wait()
    model = session.model
    xs, ys = zip(*[(x, y) for x, y in train_loader], strict=True)
    x_all, y_all = torch.cat(xs), torch.cat(ys)
    pick = torch.randperm(len(x_all), generator=torch.Generator().manual_seed(1))[:args.probe]
    x_probe, y_probe = x_all[pick], y_all[pick]
    plane = Plane(flat_parameters(model), *random_directions(model, seed=0))
    print(f"SmallCNN on digits trained {args.epochs} epochs; {args.size} x {args.size} grid, range ±1, "
          "filter-normalised random directions")
    per_point(model, plane, x_probe, y_probe, args.points)
    probe, t_probe, c_probe, levels, workers = surface(model, plane, x_probe, y_probe, args.size)
    shown = ", ".join(f"{side} x {side} at {s:.2f} s" for side, s in sorted(levels.items()) if side in (3, 9, 17))
    print(f"2. probe ({len(x_probe)} samples): {args.size} x {args.size} in {t_probe:.1f} s wall, "
          f"{c_probe:.1f} s CPU ({1e3 * t_probe / args.size ** 2:.1f} ms a point, {workers} workers); "
          f"{shown}")
    if not args.no_full:
        full, t_full, c_full, _levels, _w = surface(model, plane, x_all, y_all, args.size)
        rho = spearmanr(probe.ravel(), full.ravel()).statistic
        print(f"3. full training set ({len(x_all)} samples): {args.size} x {args.size} in {t_full:.1f} s wall, "
              f"{c_full:.1f} s CPU; full/probe time {t_full / t_probe:.2f}x wall, {c_full / c_probe:.2f}x CPU; "
              f"Spearman rho probe vs full {rho:.4f} (budget >= 0.95)")
    recorder(split, args.rounds, args.round_epochs)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
