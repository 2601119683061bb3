"""Cost of steering: Lightning fit with the nbviz callback + dashboard vs without, and the
main-shell message pump's cost per checkpoint in a real kernel.

1. The same seeded ``trainer.fit`` (the pytorch/examples MNIST CNN on in-memory digits,
   batch 64, CPU) with and without ``NbvizCallback`` and its Dashboard, alternated in each
   round (order shuffled); the median and spread of the per-round samples/s ratios.
2. In an ipykernel started with jupyter_client: ``viz.checkpoint()`` from a loop in the
   main shell, with the message pump (what a front end without subshells gets) and without
   it, in µs per call (nothing queued: the steady-state cost every batch pays).

Run: .venv/bin/python bench/callbacks.py [--rounds 6] [--steps 60]
Budget: ratio >= 0.97.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

import nbviz
from nbviz.models import MnistCNN

ROOT = Path(__file__).resolve().parents[1]


def lightning_fit(with_callback: bool, steps: int, data) -> float:
    import lightning.pytorch as pl

    from nbviz.integrations.lightning import NbvizCallback

    class Module(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = MnistCNN()

        def training_step(self, batch, _idx):
            x, y = batch
            return torch.nn.functional.cross_entropy(self.net(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01, momentum=0.9)

    pl.seed_everything(0, verbose=False)
    model = Module()
    callbacks = []
    board = None
    if with_callback:
        cb = NbvizCallback(model)
        board = cb.dashboard()
        callbacks.append(cb)
    trainer = pl.Trainer(max_steps=steps, accelerator="cpu", devices=1, logger=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         enable_checkpointing=False, callbacks=callbacks)
    loader = DataLoader(data, batch_size=64, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    t0 = time.perf_counter()
    trainer.fit(model, loader)
    elapsed = time.perf_counter() - t0
    if board is not None:
        board.close()
    return steps * 64 / elapsed


def bench_lightning(rounds: int, steps: int) -> None:
    data = nbviz.datasets.digits().train  # 1x28x28 tensors in memory
    lightning_fit(False, 10, data)  # warm up
    ratios = []
    for _ in range(rounds):
        order = [False, True]
        random.shuffle(order)
        rate = {mode: lightning_fit(mode, steps, data) for mode in order}
        ratios.append(rate[True] / rate[False])
        print(f"  plain {rate[False]:7.0f} samples/s   callback+dashboard {rate[True]:7.0f}   "
              f"ratio {ratios[-1]:.3f}", flush=True)
    print(f"lightning callback+dashboard / plain: median {statistics.median(ratios):.3f} "
          f"(min {min(ratios):.3f}, max {max(ratios):.3f}, {rounds} rounds)")


PUMP_CODE = """
import time, json, torch, nbviz
viz = nbviz.watch(torch.nn.Linear(2, 2))
board = viz.dashboard()
display(board)
def per_call(n):
    t0 = time.perf_counter()
    for _ in range(n):
        viz.checkpoint()
    return (time.perf_counter() - t0) / n * 1e6
viz.checkpoint()
pump = viz._msg_pump
results = {"pump": [], "none": []}
for _ in range(7):
    viz._msg_pump = pump; results["pump"].append(per_call(5000))
    viz._msg_pump = None; results["none"].append(per_call(5000))
print(json.dumps({"available": pump is not None, **results}))
"""


def bench_pump() -> None:
    sys.path.insert(0, str(ROOT / "tests" / "kernel"))
    from driver import KernelDriver

    kernel = KernelDriver()
    try:
        out = kernel.execute(PUMP_CODE, timeout=300)
    finally:
        kernel.close()
    result = json.loads(out.strip().splitlines()[-1])
    pump, none = statistics.median(result["pump"]), statistics.median(result["none"])
    print(f"checkpoint on the kernel's main shell: {pump:.1f} µs with the message pump, "
          f"{none:.1f} µs without (pump costs {pump - none:.1f} µs per checkpoint; "
          f"pump available: {result['available']})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    torch.set_num_threads(2)
    bench_pump()
    bench_lightning(args.rounds, args.steps)


if __name__ == "__main__":
    main()
