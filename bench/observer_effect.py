"""Observer effect: training samples/s with nbviz attached vs a plain loop, same process.

The pytorch/examples MNIST CNN trains on in-memory 1x28x28 tensors (scikit-learn's digits,
upscaled and tiled), batch 64, 2 torch threads. Each round runs plain, then each attached
mode, so drift of the machine hits all alike; the median of the per-round ratios is printed.
The order of the runs is shuffled in each round. "session" is a TrainingSession alone
(training in its thread, no widgets); "dashboard" is a TrainingSession with a Dashboard (controls and curves refreshed by the UI
pump); "all views" also builds every tab once (so their training-thread recorders attach)
and shows the feature-map tab, as a user looking inside the model would.

Run: .venv/bin/python bench/observer_effect.py [--steps 100] [--rounds 8]
Budget: ratio >= 0.97; comm messages <= 30/s per dashboard.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import threading
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import nbviz
from nbviz.devtools import CommRecorder
from nbviz.models import MnistCNN
from nbviz.views.context import context_for


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


class StepsDone(threading.Event):
    """Set by the training thread once ``steps`` batches are done."""

    def __init__(self, steps: int) -> None:
        super().__init__()
        self.steps = steps

    def on_batch_end(self, run: nbviz.TrainingSession) -> None:
        if run.step_count >= self.steps:
            self.set()


def attached(data: TensorDataset, steps: int, mode: str,
             recorder: CommRecorder) -> tuple[float, float, float]:
    """(samples/s, comm messages/s, share of wall time the UI pump spent refreshing)."""
    torch.manual_seed(0)
    session = nbviz.TrainingSession(MnistCNN(), loader(data), epochs=1000, lr=0.01)
    all_views = mode == "all views"
    board = None if mode == "session" else nbviz.Dashboard(session, tabs=None if all_views else [])
    if all_views:
        titles = list(board.tabs.titles)
        for index in range(1, len(titles)):
            board.tabs.selected_index = index  # builds the view, as a click on the tab does
        board.tabs.selected_index = titles.index("Feature maps")
    done = StepsDone(steps)
    session.add_callback(done)
    time.sleep(1.0)  # views finish opening before the clock starts
    recorder.reset()
    busy0 = context_for(session).pump.busy_seconds
    t0 = time.perf_counter()
    session.step(steps)
    done.wait()  # blocks like an idle kernel: polling here would steal the training cores
    elapsed = time.perf_counter() - t0
    rate = recorder.rate()
    pump_share = (context_for(session).pump.busy_seconds - busy0) / elapsed
    if board is not None:
        board.close()
    session.stop()
    return steps * 64 / elapsed, rate, pump_share


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(2)
    data = make_data()
    plain(data, 10)  # warm up
    modes = ("session", "dashboard", "all views")
    speeds: dict[str, list[float]] = {"plain": [], **{m: [] for m in modes}}
    ratios: dict[str, list[float]] = {m: [] for m in modes}
    rates: dict[str, list[float]] = {m: [] for m in modes}
    pump: dict[str, list[float]] = {m: [] for m in modes}
    order = random.Random(0)
    with CommRecorder() as recorder:
        for _ in range(args.rounds):
            results = {}
            for mode in order.sample(["plain", *modes], 4):  # no mode always runs first
                results[mode] = (plain(data, args.steps), 0.0, 0.0) if mode == "plain" else \
                    attached(data, args.steps, mode, recorder)
            base = results["plain"][0]
            speeds["plain"].append(base)
            for mode in modes:
                speed, rate, share = results[mode]
                speeds[mode].append(speed)
                ratios[mode].append(speed / base)
                rates[mode].append(rate)
                pump[mode].append(share)
    print(f"machine load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"{args.rounds} interleaved rounds of {args.steps} steps, batch 64, 2 threads")
    print(f"{'plain':>10}: {statistics.median(speeds['plain']):6.0f} samples/s (median)")
    for mode in modes:
        spread = f"{min(ratios[mode]):.2f}-{max(ratios[mode]):.2f}"
        print(f"{mode:>10}: {statistics.median(speeds[mode]):6.0f} samples/s  "
              f"ratio {statistics.median(ratios[mode]):.3f} (rounds {spread}; budget >= 0.97)  "
              f"comm messages {statistics.median(rates[mode]):.1f}/s (budget <= 30)  "
              f"UI pump busy {100 * statistics.median(pump[mode]):.2f}% of wall time")


if __name__ == "__main__":
    main()
