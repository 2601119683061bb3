"""Observer effect of ParamStats (weights/gradients recording) on training speed.

Trains MnistCNN (pytorch/examples) with a TrainingSession on random 1x28x28 batches of 64,
alternating runs without and with the default, time-throttled ParamStats attached, in one
process, and prints samples/s of each and the ratio (budget: >= 0.97).

    .venv/bin/python bench/param_stats_overhead.py [--steps 60] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

import nbviz
from nbviz.models import MnistCNN
from nbviz.probes.act_stats import compute_activation_stats
from nbviz.probes.param_stats import ParamStats


def run(steps: int, with_stats: bool) -> tuple[float, ParamStats | None]:
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(steps * 64, 1, 28, 28), torch.randint(0, 10, (steps * 64,)))
    model = MnistCNN()
    session = nbviz.TrainingSession(model, DataLoader(data, batch_size=64), epochs=1, lr=0.01)
    stats = ParamStats(model).attach(session) if with_stats else None
    t0 = time.perf_counter()
    session.start()
    session.wait()
    elapsed = time.perf_counter() - t0
    if stats is not None:
        stats.detach()
    return steps * 64 / elapsed, stats


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    run(10, False)  # warm-up
    plain, watched, samples, spent = [], [], 0, 0.0
    for _ in range(args.rounds):
        plain.append(run(args.steps, False)[0])
        rate, stats = run(args.steps, True)
        watched.append(rate)
        samples += stats.samples_taken
        spent += stats.time_spent
    p, w = statistics.median(plain), statistics.median(watched)
    print(f"plain loop        : {p:8.0f} samples/s  (median of {args.rounds} runs of {args.steps} steps)")
    print(f"with ParamStats   : {w:8.0f} samples/s  ({samples} snapshots, "
          f"{1000 * spent / max(samples, 1):.1f} ms each in the training thread)")
    print(f"ratio             : {w / p:.3f}  (budget >= 0.97)")
    model = MnistCNN()
    probe = torch.randn(64, 1, 28, 28)
    compute_activation_stats(model, probe)
    t0 = time.perf_counter()
    for _ in range(5):
        compute_activation_stats(model, probe)
    act = (time.perf_counter() - t0) / 5
    t0 = time.perf_counter()
    with torch.no_grad():
        for _ in range(5):
            model(probe)
    fwd = (time.perf_counter() - t0) / 5
    print(f"activation stats  : {1000 * act:.1f} ms per probe pass of 64 vs {1000 * fwd:.1f} ms plain "
          f"forward ({act / fwd:.2f}x); at most every 2 s and <= 2% of wall time in the view")


if __name__ == "__main__":
    main()
