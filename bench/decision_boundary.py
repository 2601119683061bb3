"""Cost of the decision-boundary view: one map pass, and training slowdown with it open.

1. Kernel-side time of one 100x100 map with every hidden unit's map for a 4-hidden-layer
   MLP (the grid pass in the training thread + drawing the RGB tile and the unit tiles in
   the pump thread), median and spread of many repeats.
2. The three-image plane at 64 x 64 (4096 images) for the reference CNNs, in seconds.
3. Training speed (steps/s) on the spiral with the view closed and open (refreshed by the
   real UI pump at its default rate), interleaved rounds in one process; ratio with spread
   (budget: slowdown <= 2 %, i.e. ratio >= 0.98).

    .venv/bin/python bench/decision_boundary.py [--units 8] [--steps 3000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

import nbviz
from nbviz.boundary.grid import GridSpec, compute_maps, hidden_units
from nbviz.boundary.plane import PlaneGrid, plane_probabilities
from nbviz.boundary.render import render_map, unit_tiles
from nbviz.datasets import toy2d
from nbviz.models import MnistCNN, SmallCNN
from nbviz.views.decision_boundary import DecisionBoundary


def mlp(units: int, layers: int = 4) -> nn.Sequential:
    torch.manual_seed(0)
    modules: list[nn.Module] = []
    width = 2
    for _ in range(layers):
        modules += [nn.Linear(width, units), nn.Tanh()]
        width = units
    return nn.Sequential(*modules, nn.Linear(width, 2))


def map_cost(units: int, repeats: int) -> tuple[list[float], list[float], int]:
    model = mlp(units)
    data = toy2d("spiral", 500)
    points, labels = data.train.tensors
    grid = GridSpec(-6.0, 6.0, -6.0, 6.0, 100)
    names = hidden_units(model)
    compute_maps(model, grid, names)  # warm-up
    passes, draws = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        maps = compute_maps(model, grid, names)
        t1 = time.perf_counter()
        render_map(maps.probabilities, grid, points.numpy(), labels.numpy())
        unit_tiles(maps.units)
        t2 = time.perf_counter()
        passes.append(1000 * (t1 - t0))
        draws.append(1000 * (t2 - t1))
    return passes, draws, len(maps.unit_names)


def plane_seconds(model_cls: type[nn.Module], repeats: int = 3) -> list[float]:
    torch.manual_seed(0)
    model = model_cls()
    a, b, c = torch.rand(3, 1, 28, 28)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        plane_probabilities(model, a, b, c, PlaneGrid(64))
        times.append(time.perf_counter() - t0)
    return times


def train_rate(open_view: bool, steps: int, units: int) -> tuple[float, int]:
    data = toy2d("spiral", 500)
    train, val = data.loaders(batch_size=10)
    session = nbviz.TrainingSession(mlp(units), train, val, lr=0.03, epochs=10_000)
    view = DecisionBoundary(session) if open_view else None
    if view is not None:
        time.sleep(0.3)  # the first map is drawn before timing starts
    t0 = time.perf_counter()
    session.step(steps)
    while session.step_count < steps or session.state != "paused":
        time.sleep(0.002)
    elapsed = time.perf_counter() - t0
    captures = view.captures if view is not None else 0
    if view is not None:
        view.close()
    session.stop()
    return steps / elapsed, captures


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f}, min {min(values):.2f}, max {max(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for units in sorted({args.units, 16}):
        passes, draws, count = map_cost(units, args.repeats)
        total = [p + d for p, d in zip(passes, draws, strict=True)]
        print(f"4 x {units:2d} tanh MLP, 100x100 map + {count} unit maps: grid pass {spread(passes)} ms, "
              f"drawing {spread(draws)} ms, total {spread(total)} ms (target <= 10 ms)")
    for model_cls in (SmallCNN, MnistCNN):
        print(f"three-image plane 64x64, {model_cls.__name__}: {spread(plane_seconds(model_cls))} s "
              "(one thread, CPU)")
    train_rate(False, 50, args.units)  # warm-up
    closed, opened, ratios, captures = [], [], [], 0
    for _ in range(args.rounds):
        c = train_rate(False, args.steps, args.units)[0]
        o, n = train_rate(True, args.steps, args.units)
        closed.append(c)
        opened.append(o)
        ratios.append(o / c)
        captures += n
    print(f"training, view closed: {spread(closed)} steps/s ({args.rounds} rounds of {args.steps} steps)")
    print(f"training, view open  : {spread(opened)} steps/s ({captures} maps drawn)")
    print(f"ratio open/closed    : {spread(ratios)}  (budget >= 0.98)")


if __name__ == "__main__":
    main()
