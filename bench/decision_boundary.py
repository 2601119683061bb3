"""Cost of the decision-boundary view: one map pass, and training slowdown with it open.

1. Kernel-side time of one 100x100 map with every hidden unit's map for a 4-hidden-layer
   MLP (the grid pass in the training thread + drawing the RGB tile and the unit tiles in
   the pump thread), median and spread of many repeats.
2. The three-image plane at 64 x 64 (4096 images) for the reference CNNs, in seconds.
3. Training speed (steps/s) on the spiral with the Playground's views (DecisionBoundary +
   NetworkDiagram, refreshed by the real UI pump) closed and open, in interleaved pairs
   (ABBA order) in one process: median ratio with a 95 % bootstrap interval (budget:
   slowdown <= 2 %, i.e. ratio >= 0.98), and the views' own time as a share of each run
   (load-insensitive: the passes are spaced by their measured cost to stay within 2 %).

Default run: a few minutes on 2 cores. Quick check: --repeats 5 --plane-repeats 1 --pairs 2 --steps 300

    .venv/bin/python bench/decision_boundary.py [--units 8] [--steps 4000] [--pairs 12]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import numpy as np
import torch
from torch import nn

import nbviz
from nbviz.boundary.grid import GridSpec, compute_maps, hidden_units, mlp_chain
from nbviz.boundary.plane import PlaneGrid, plane_probabilities
from nbviz.boundary.render import render_map, unit_tiles
from nbviz.datasets import toy2d
from nbviz.models import MnistCNN, SmallCNN
from nbviz.views.decision_boundary import DecisionBoundary
from nbviz.views.network_diagram import NetworkDiagram


def mlp(units: int, layers: int = 4) -> nn.Sequential:
    torch.manual_seed(0)
    modules: list[nn.Module] = []
    width = 2
    for _ in range(layers):
        modules += [nn.Linear(width, units), nn.Tanh()]
        width = units
    return nn.Sequential(*modules, nn.Linear(width, 2))


def map_cost(units: int, repeats: int) -> dict[str, list[float]]:
    """ms of one grid pass (recording the network too, as under a NetworkDiagram), of drawing
    the map with the unit-grid tiles (DecisionBoundary alone) and of drawing the map with the
    diagram's thumbnails and weights (the Playground), wall and CPU (thread time)."""
    model = mlp(units)
    data = toy2d("spiral", 500)
    points, labels = data.train.tensors
    grid = GridSpec(-6.0, 6.0, -6.0, 6.0, 100)
    names = hidden_units(model)
    chain = mlp_chain(model, compute_maps(model, grid, names).unit_names)  # warm-up
    assert chain is not None
    out: dict[str, list[float]] = {key: [] for key in ("pass", "cpu_pass", "grid", "diagram", "cpu_grid", "cpu_diagram")}
    for _ in range(repeats):
        c0, t0 = time.thread_time(), time.perf_counter()
        maps = compute_maps(model, grid, names, network=chain)
        c1, t1 = time.thread_time(), time.perf_counter()
        render_map(maps.probabilities, grid, points.numpy(), labels.numpy())
        c2, t2 = time.thread_time(), time.perf_counter()
        unit_tiles(maps.units)
        c3, t3 = time.thread_time(), time.perf_counter()
        np.concatenate([unit_tiles(part, 4) for part in (maps.inputs, maps.units, maps.outputs)])
        np.concatenate([w.reshape(-1) for w in maps.weights]).astype(np.float32).tobytes()
        c4, t4 = time.thread_time(), time.perf_counter()
        out["pass"].append(1000 * (t1 - t0))
        out["cpu_pass"].append(1000 * (c1 - c0))
        out["grid"].append(1000 * (t1 - t0 + t3 - t1))
        out["diagram"].append(1000 * (t2 - t0 + t4 - t3))
        out["cpu_grid"].append(1000 * (c3 - c0))
        out["cpu_diagram"].append(1000 * (c2 - c0 + c4 - c3))
    out["units"] = [float(len(maps.unit_names))]
    return out


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


def train_rate(open_view: bool, steps: int, units: int) -> tuple[float, dict[str, float]]:
    """Steps/s of the Playground's kind of run (spiral, batch 10) with the views closed, or
    open as the Playground shows them (DecisionBoundary + NetworkDiagram, refreshed by the
    real UI pump); with the views' own time (grid passes in the training thread, pump work)."""
    data = toy2d("spiral", 500)
    train, val = data.loaders(batch_size=10)
    session = nbviz.TrainingSession(mlp(units), train, val, lr=0.03, epochs=10_000)
    view = DecisionBoundary(session, unit_grid=False) if open_view else None
    diagram = NetworkDiagram(view) if view is not None else None
    if view is not None:
        deadline = time.monotonic() + 30
        while (diagram is None or diagram.canvas.count == 0) and time.monotonic() < deadline:
            time.sleep(0.02)  # the first map and diagram are drawn before timing starts
        pump = view.context.pump
        busy0, captures0, passes0 = pump.busy_seconds, view.captures, view.pass_seconds
    t0 = time.perf_counter()
    session.step(steps)
    while session.step_count < steps or session.state != "paused":
        time.sleep(0.002)
    elapsed = time.perf_counter() - t0
    info = {"captures": 0.0, "pass_s": 0.0, "pump_s": 0.0, "elapsed": elapsed}
    if view is not None and diagram is not None:
        info.update(captures=view.captures - captures0, pass_s=view.pass_seconds - passes0,
                    pump_s=pump.busy_seconds - busy0)
        diagram.close()
        view.close()
    session.stop()
    return steps / elapsed, info


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f}, min {min(values):.2f}, max {max(values):.2f}"


def median_interval(values: list[float], resamples: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """The median and a 95 % bootstrap interval of it."""
    rng = random.Random(seed)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(resamples))
    return statistics.median(values), medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=8)
    parser.add_argument("--steps", type=int, default=4000, help="training steps per timed run")
    parser.add_argument("--pairs", type=int, default=12, help="interleaved (closed, open) pairs")
    parser.add_argument("--repeats", type=int, default=50, help="map passes timed per MLP size")
    parser.add_argument("--plane-repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for units in sorted({args.units, 16}):
        cost = map_cost(units, args.repeats)
        print(f"4 x {units:2d} tanh MLP, 100x100 map + {cost['units'][0]:.0f} unit maps (target <= 10 ms):\n"
              f"    grid pass (training thread)          {spread(cost['pass'])} ms, CPU {spread(cost['cpu_pass'])} ms\n"
              f"    + map and unit grid (DecisionBoundary) {spread(cost['grid'])} ms, CPU {spread(cost['cpu_grid'])} ms\n"
              f"    + map and diagram (Playground)       {spread(cost['diagram'])} ms, CPU {spread(cost['cpu_diagram'])} ms")
    for model_cls in (SmallCNN, MnistCNN):
        print(f"three-image plane 64x64, {model_cls.__name__}: {spread(plane_seconds(model_cls, args.plane_repeats))} s "
              "(one thread, CPU)")
    train_rate(False, 50, args.units)  # warm-up
    train_rate(True, 50, args.units)
    closed, opened, ratios, shares, captures = [], [], [], [], 0.0
    for pair in range(args.pairs):
        order = (False, True) if pair % 2 == 0 else (True, False)  # ABBA: drift hits both alike
        rates: dict[bool, float] = {}
        for open_view in order:
            rate, info = train_rate(open_view, args.steps, args.units)
            rates[open_view] = rate
            if open_view:
                captures += info["captures"]
                shares.append((info["pass_s"] + info["pump_s"]) / info["elapsed"])
        closed.append(rates[False])
        opened.append(rates[True])
        ratios.append(rates[True] / rates[False])
    mid, lo, hi = median_interval(ratios)
    print(f"training, views closed: {spread(closed)} steps/s ({args.pairs} pairs of {args.steps} steps, ABBA order)")
    print(f"training, views open  : {spread(opened)} steps/s (DecisionBoundary + NetworkDiagram, "
          f"{captures:.0f} maps drawn)")
    print(f"ratio open/closed     : median {mid:.3f}, 95% interval {lo:.3f}..{hi:.3f}, "
          f"min {min(ratios):.3f}, max {max(ratios):.3f}  (budget >= 0.98)")
    print(f"views' own time / run : {spread([100 * s for s in shares])} %  (grid passes in the training "
          "thread + UI pump work, over the run's wall time; load-insensitive check of the 2 % budget)")


if __name__ == "__main__":
    main()
