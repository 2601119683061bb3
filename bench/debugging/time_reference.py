"""Seconds of nbviz.check on the reference CNN (SmallCNN, digits), default experiments.

Runs the report ``--repeats`` times and prints the median and the spread. The budget is 15 s
on 2 cores.

Usage: PYTHONPATH=$PWD python bench/debugging/time_reference.py [--repeats 5] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

import nbviz


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    split = nbviz.datasets.digits()
    train, val = split.loaders(batch_size=64)
    times = []
    for i in range(args.repeats):
        model = nbviz.models.SmallCNN()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        started = time.perf_counter()
        report = nbviz.check(model, train, nn.CrossEntropyLoss(), optimizer, val)
        times.append(time.perf_counter() - started)
        print(f"run {i + 1}: {times[-1]:.2f} s  {report.headline()}", flush=True)
    print(f"nbviz.check on SmallCNN (torch threads {torch.get_num_threads()}): median "
          f"{statistics.median(times):.2f} s, min {min(times):.2f} s, max {max(times):.2f} s "
          f"over {len(times)} runs (budget 15 s)")


if __name__ == "__main__":
    main()
