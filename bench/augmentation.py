"""Training samples/s of ShapesCNN on shapes() with four augmentations on vs off, same process.

Runs alternate (off, on, off, on, ...) through nbviz.TrainingSession with the pipeline
attached; prints samples/s of each, the ratio on/off, and the share of the wall time spent
in the augmentation pipeline (per-sample work in the DataLoader, here in the training thread
because num_workers=0).

    .venv/bin/python bench/augmentation.py [--n 1000] [--repeats 2] [--workers 0]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.data import DataLoader

import nbviz
from nbviz.augment import AugmentedDataset, ImageInfo, PipelineHolder, PipelineSpec, attach

FOUR = {"crop": {"padding": 4}, "rotation": {"degrees": 15.0}, "hflip": {"p": 0.5},
        "color": {"brightness": 0.3, "contrast": 0.3}}


class TimedHolder(PipelineHolder):
    """A PipelineHolder that adds up the time spent applying the pipeline."""

    seconds = 0.0

    def apply(self, image: torch.Tensor, index: int) -> torch.Tensor:
        t0 = time.perf_counter()
        out = super().apply(image, index)
        self.seconds += time.perf_counter() - t0
        return out


def one_run(data: nbviz.datasets.DataSplit, augment: bool, workers: int, batch: int) -> tuple[float, float]:
    """(samples/s, share of wall time in the pipeline) of one epoch."""
    torch.manual_seed(0)
    train, _ = data.loaders(batch_size=batch, num_workers=workers)
    session = nbviz.TrainingSession(nbviz.models.ShapesCNN(), train, epochs=1, lr=0.05)
    spec = PipelineSpec.default(ImageInfo(3, 32, 32))
    if augment:
        for name, values in FOUR.items():
            spec = spec.with_changes(name, True, **values)
    holder = TimedHolder(spec)
    attach(session, holder).result()
    t0 = time.perf_counter()
    session.start()
    session.wait()
    wall = time.perf_counter() - t0
    samples = len(data.train)
    return samples / wall, (holder.seconds / wall if workers == 0 else float("nan"))


def loader_only(data: nbviz.datasets.DataSplit, augment: bool, batch: int) -> float:
    """samples/s of the training DataLoader alone (no model), num_workers=0, best of three."""
    spec = PipelineSpec.default(ImageInfo(3, 32, 32))
    if augment:
        for name, values in FOUR.items():
            spec = spec.with_changes(name, True, **values)
    holder = PipelineHolder(spec)
    loader = DataLoader(AugmentedDataset(data.train, holder), batch_size=batch, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    best = 0.0
    for _ in range(3):  # best of three: the first pass also warms torchvision's kernels up
        t0 = time.perf_counter()
        count = sum(len(x) for x, _ in loader)
        best = max(best, count / (time.perf_counter() - t0))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="images in shapes() (80%% train)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    data = nbviz.datasets.shapes(n=args.n)
    print(f"ShapesCNN on shapes(n={args.n}): {len(data.train)} training images/epoch, batch "
          f"{args.batch}, num_workers={args.workers}, torch threads={torch.get_num_threads()}")
    print("augmentations on: " + ", ".join(f"{k} {v}" for k, v in FOUR.items()))
    one_run(data, False, args.workers, args.batch)  # warm-up (allocator, kernels)
    rates: dict[bool, list[float]] = {False: [], True: []}
    shares: list[float] = []
    for _ in range(args.repeats):
        for augment in (False, True):
            rate, share = one_run(data, augment, args.workers, args.batch)
            rates[augment].append(rate)
            if augment:
                shares.append(share)
            print(f"  augmentation {'on ' if augment else 'off'}: {rate:8.0f} samples/s")
    plain, augmented = loader_only(data, False, args.batch), loader_only(data, True, args.batch)
    print(f"loader alone (one thread, no model): off {plain:.0f} samples/s, on {augmented:.0f} "
          "samples/s")
    off, on = statistics.median(rates[False]), statistics.median(rates[True])
    print(f"median samples/s: off {off:.0f}, on {on:.0f}")
    print(f"ratio on/off: {on / off:.3f}")
    print(f"augmented loading is {augmented / on:.1f}x faster than training consumes it")
    if args.workers == 0:
        share = statistics.median(shares)
        print(f"share of wall time in the augmentation pipeline (on): {share:.1%}")
        print(f"pipeline cost per sample: {share / on * 1e6:.0f} us "
              f"(training step alone: {1e6 / off:.0f} us per sample)")


if __name__ == "__main__":
    main()
