"""Time to generate nbviz.datasets.shapes() (6000 images, 3x32x32) against its 2 s budget.

Baselines in the same process: the same images drawn in one piece (no chunking), and
torch.rand of the same tensor size (a floor: just filling that much memory with numbers).

Run: .venv/bin/python bench/shapes_generation.py [--n 6000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from nbviz.datasets.shapes import SHAPE_CLASSES, draw_shapes, shapes


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=6000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    labels = np.arange(args.n) % len(SHAPE_CLASSES)
    chunked = best_of(lambda: shapes(n=args.n), args.repeats)
    one_piece = best_of(lambda: draw_shapes(labels, 32, np.random.default_rng(0)), args.repeats)
    floor = best_of(lambda: torch.rand(args.n, 3, 32, 32), args.repeats)
    print(f"shapes(n={args.n}) incl. split: {chunked:.3f} s (budget 2 s: {chunked / 2:.2f} of it)")
    print(f"one-piece draw: {one_piece:.3f} s -> chunked/one-piece ratio {chunked / one_piece:.2f}")
    print(f"torch.rand floor: {floor:.3f} s -> shapes/floor ratio {chunked / floor:.1f}")


if __name__ == "__main__":
    main()
