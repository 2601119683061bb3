"""Observer effect: training samples/s with nbviz attached vs a plain loop, same process.

The pytorch/examples MNIST CNN trains on in-memory 1x28x28 tensors (scikit-learn's digits,
upscaled and tiled), batch 64, 2 torch threads. Runs alternate plain / attached so drift of
the machine hits both alike; the ratio of medians is printed. "attached" is a
TrainingSession with a Dashboard (curves and controls refreshed by the UI pump); "all views"
also opens every dashboard tab and keeps each one refreshing as if shown.

Run: .venv/bin/python bench/observer_effect.py [--steps 150] [--rounds 3]
Budget: ratio >= 0.97; comm messages <= 30/s per dashboard.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import nbviz
from nbviz.devtools import CommRecorder
from nbviz.models import MnistCNN


def make_data(n: int = 6400) -> TensorDataset:
    split = nbviz.datasets.digits()
    images, labels = split.train.tensors
    reps = -(-n // len(images))
    return TensorDataset(images.repeat(reps, 1, 1, 1)[:n], labels.repeat(reps)[:n])


def loader(data: TensorDataset) -> DataLoader:
    return DataLoader(data, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0))


def plain(data: TensorDataset, steps: int) -> float:
    torch.manual_seed(0)
    model = MnistCNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    done, samples = 0, 0
    t0 = time.perf_counter()
    while done < steps:
        for x, y in loader(data):
            optimizer.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(x), y)
            loss.item()  # a plain loop logs its loss too
            loss.backward()
            optimizer.step()
            done += 1
            samples += len(x)
            if done == steps:
                break
    return samples / (time.perf_counter() - t0)


def attached(data: TensorDataset, steps: int, all_views: bool,
             recorder: CommRecorder) -> tuple[float, float]:
    torch.manual_seed(0)
    session = nbviz.TrainingSession(MnistCNN(), loader(data), epochs=1000, lr=0.01)
    board = nbviz.Dashboard(session, tabs=None if all_views else [])
    if all_views:
        for title in board.tabs.titles[1:]:
            board.view(title).set_active(True)
    time.sleep(1.0)  # views finish opening before the clock starts
    recorder.reset()
    t0 = time.perf_counter()
    session.step(steps)
    while not (session.state == "paused" and session.step_count >= steps):
        time.sleep(0.005)
    elapsed = time.perf_counter() - t0
    rate = recorder.rate()
    board.close()
    session.stop()
    return steps * 64 / elapsed, rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(2)
    data = make_data()
    plain(data, 10)  # warm up
    results: dict[str, list[float]] = {"plain": [], "dashboard": [], "all views": []}
    rates: dict[str, list[float]] = {"dashboard": [], "all views": []}
    with CommRecorder() as recorder:
        for _ in range(args.rounds):
            for name in results:
                if name == "plain":
                    results[name].append(plain(data, args.steps))
                else:
                    speed, rate = attached(data, args.steps, name == "all views", recorder)
                    results[name].append(speed)
                    rates[name].append(rate)
    base = statistics.median(results["plain"])
    print(f"machine load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"{args.rounds} interleaved rounds of {args.steps} steps, batch 64, 2 threads")
    for name, values in results.items():
        line = f"{name:>10}: {statistics.median(values):8.0f} samples/s (median)"
        if name != "plain":
            line += (f"  ratio {statistics.median(values) / base:.3f} (budget >= 0.97)"
                     f"  comm messages {statistics.median(rates[name]):.1f}/s (budget <= 30)")
        print(line)


if __name__ == "__main__":
    main()
