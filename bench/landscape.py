"""Loss landscape cost and fidelity, and the trajectory recorder's observer effect.

1. Trains the reference CNN (nbviz.models.SmallCNN) on nbviz.datasets.digits() for a few
   epochs, then evaluates a 41 x 41 grid on filter-normalised random directions twice: on a
   1,024-sample probe and on the full training set (the Li et al. cost). Prints both wall
   times, their ratio and the Spearman rank correlation of the two surfaces (budget >= 0.95).
   Also at 256 samples, where the probe is a smaller share of the data.
2. Trains the same session with and without a TrajectoryRecorder (default time budget),
   interleaved rounds in one process, and prints samples/s of each and the ratio (spread).

    PYTHONPATH=. .venv/bin/python bench/landscape.py [--size 41] [--epochs 2] [--rounds 4]
"""

from __future__ import annotations

import argparse
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
from nbviz.models import SmallCNN


def surface(model: nn.Module, plane: Plane, x: torch.Tensor, y: torch.Tensor, size: int) -> tuple[np.ndarray, float]:
    job = SurfaceJob(model_copy(model), plane, x, y, nn.functional.cross_entropy, size=size, coarse=9, span=1.0)
    t0 = time.perf_counter()
    job.run()
    return job.loss.copy(), time.perf_counter() - t0


def train_rate(split: nbviz.datasets.DataSplit, record: bool) -> tuple[float, TrajectoryRecorder | None]:
    torch.manual_seed(0)
    train_loader, _ = split.loaders(batch_size=32)
    session = nbviz.TrainingSession(SmallCNN(), train_loader, epochs=1, lr=0.05)
    rec = TrajectoryRecorder(session.model).attach(session) if record else None
    t0 = time.perf_counter()
    session.start()
    session.wait()
    elapsed = time.perf_counter() - t0
    if rec is not None:
        rec.detach()
    return len(train_loader.dataset) / elapsed, rec


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=41)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    split = nbviz.datasets.digits()
    torch.manual_seed(0)
    train_loader, _ = split.loaders(batch_size=32)
    session = nbviz.TrainingSession(SmallCNN(), train_loader, epochs=args.epochs, lr=0.05)
    session.start()
    session.wait()
    model = session.model
    xs, ys = zip(*[(x, y) for x, y in train_loader], strict=True)
    x_all, y_all = torch.cat(xs), torch.cat(ys)
    d1, d2 = random_directions(model, seed=0)
    plane = Plane(flat_parameters(model), d1, d2)
    print(f"SmallCNN on digits, trained {args.epochs} epochs; {torch.get_num_threads()} torch threads; "
          f"{args.size} x {args.size} grid, range ±1, filter-normalised random directions")
    full, t_full = surface(model, plane, x_all, y_all, args.size)
    print(f"full training set ({len(x_all):5d} samples): {t_full:6.1f} s")
    g = torch.Generator().manual_seed(1)
    for n in (1024, 256):
        pick = torch.randperm(len(x_all), generator=g)[:n]
        probe, t_probe = surface(model, plane, x_all[pick], y_all[pick], args.size)
        rho = spearmanr(probe.ravel(), full.ravel()).statistic
        print(f"probe             ({n:5d} samples): {t_probe:6.1f} s  time ratio full/probe {t_full / t_probe:5.2f}x"
              f"  Spearman rho vs full {rho:.4f}  (budget >= 0.95)")
    plain, recorded, kept, spent = [], [], 0, 0.0
    train_rate(split, False)  # warm-up
    for _ in range(args.rounds):  # interleaved rounds
        plain.append(train_rate(split, False)[0])
        rate, rec = train_rate(split, True)
        recorded.append(rate)
        assert rec is not None
        kept, spent = kept + rec.samples_taken, spent + rec.time_spent
    ratios = [r / p for p, r in zip(plain, recorded, strict=True)]
    print(f"training without recorder: {statistics.median(plain):7.0f} samples/s (median of {args.rounds})")
    print(f"training with recorder   : {statistics.median(recorded):7.0f} samples/s "
          f"({kept} snapshots, {1e3 * spent / max(kept, 1):.2f} ms each)")
    print(f"ratio with/without       : {statistics.median(ratios):.3f} "
          f"(min {min(ratios):.3f}, max {max(ratios):.3f}; budget >= 0.99)")


if __name__ == "__main__":
    main()
