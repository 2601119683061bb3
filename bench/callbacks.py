"""Cost of steering: Lightning fit with the nbviz callback + dashboard vs without, and the
main-shell message pump's cost per checkpoint in a real kernel.

1. The same seeded Lightning ``trainer.fit`` and Hugging Face ``trainer.train`` (the
   pytorch/examples MNIST CNN on in-memory digits, batch 64, CPU): plain, with
   ``NbvizCallback``, and with the callback and its Dashboard (the UI pump refreshing the
   control bar and curves), all three in each round (order shuffled); samples/s between
   batch ends after warm-up; the median and spread of the per-round ratios to plain.
2. In an ipykernel started with jupyter_client: ``viz.checkpoint()`` from a loop in the
   main shell, with the message pump (what a front end without subshells gets) and without
   it, in µs per call (nothing queued: the steady-state cost every batch pays).

Run: .venv/bin/python bench/callbacks.py [--rounds 6] [--steps 60] [--only pump lightning transformers]
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


def steady_rate(times: list[float], skip: int = 3) -> float:
    """Samples/s between batch ends, after ``skip`` warm-up batches (setup time excluded)."""
    times = times[skip:]
    return (len(times) - 1) * 64 / (times[-1] - times[0])


def lightning_fit(mode: str, steps: int, data) -> float:
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

    class Timer(pl.Callback):
        def on_train_batch_end(self, *_args) -> None:
            times.append(time.perf_counter())

    times: list[float] = []
    pl.seed_everything(0, verbose=False)
    model = Module()
    callbacks: list = [Timer()]
    board = None
    if mode != "plain":
        cb = NbvizCallback(model)
        board = cb.dashboard() if mode == "callback+dashboard" else None
        callbacks.append(cb)
    trainer = pl.Trainer(max_steps=steps, accelerator="cpu", devices=1, logger=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         enable_checkpointing=False, callbacks=callbacks)
    loader = DataLoader(data, batch_size=64, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    trainer.fit(model, loader)
    if board is not None:
        board.close()
    return steady_rate(times)


def hf_train(mode: str, steps: int, data) -> float:
    import transformers
    from transformers import Trainer, TrainingArguments

    from nbviz.integrations.transformers import NbvizCallback

    class Module(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = MnistCNN()

        def forward(self, pixels, labels):
            return {"loss": torch.nn.functional.cross_entropy(self.net(pixels), labels)}

    class AsDicts(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(data)

        def __getitem__(self, i):
            x, y = data[i]
            return {"pixels": x, "labels": y}

    class Timer(transformers.TrainerCallback):
        def on_step_end(self, *_args, **_kwargs) -> None:
            times.append(time.perf_counter())

    times: list[float] = []
    transformers.set_seed(0)
    model = Module()
    callbacks: list = [Timer()]
    board = None
    if mode != "plain":
        cb = NbvizCallback(model)
        board = cb.dashboard() if mode == "callback+dashboard" else None
        callbacks.append(cb)
    args = TrainingArguments(output_dir="/tmp/nbviz-bench-hf", max_steps=steps,
                             per_device_train_batch_size=64, learning_rate=0.01, use_cpu=True,
                             report_to=[], save_strategy="no", logging_steps=1,
                             disable_tqdm=True, dataloader_num_workers=0, seed=0)
    trainer = Trainer(model=model, args=args, train_dataset=AsDicts(), callbacks=callbacks)
    trainer.train()
    if board is not None:
        board.close()
    return steady_rate(times)


MODES = ("plain", "callback", "callback+dashboard")


def bench_framework(name: str, run, rounds: int, steps: int) -> None:
    data = nbviz.datasets.digits().train  # 1x28x28 tensors in memory
    run("plain", 8, data)  # warm up
    ratios: dict[str, list[float]] = {mode: [] for mode in MODES[1:]}
    for _ in range(rounds):
        order = list(MODES)
        random.shuffle(order)
        rate = {mode: run(mode, steps, data) for mode in order}
        for mode in MODES[1:]:
            ratios[mode].append(rate[mode] / rate["plain"])
        print(f"  {name}: " + "   ".join(f"{m} {rate[m]:6.0f}" for m in MODES) + " samples/s",
              flush=True)
    for mode, values in ratios.items():
        print(f"{name} {mode} / plain: median {statistics.median(values):.3f} "
              f"(min {min(values):.3f}, max {max(values):.3f}, {rounds} rounds)")


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


def bench_per_batch() -> None:
    """The callbacks' own work per batch (log + checkpoint), which a loaded machine's noise
    in samples/s cannot hide: compare it with the step time printed above."""
    from nbviz.session.watch import Watch

    viz = Watch(MnistCNN(), torch.optim.SGD(MnistCNN().parameters(), lr=0.01))
    samples = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(5000):
            viz.log(loss=0.5)
            viz.checkpoint()
        samples.append((time.perf_counter() - t0) / 5000 * 1e6)
    print(f"callback work per batch (viz.log + viz.checkpoint): median "
          f"{statistics.median(samples):.1f} µs (min {min(samples):.1f}, max {max(samples):.1f})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--only", nargs="*", default=["pump", "lightning", "transformers"])
    args = parser.parse_args()
    torch.set_num_threads(2)
    if "pump" in args.only:
        bench_per_batch()
        bench_pump()
    if "lightning" in args.only:
        bench_framework("lightning", lightning_fit, args.rounds, args.steps)
    if "transformers" in args.only:
        bench_framework("transformers", hf_train, args.rounds, args.steps)


if __name__ == "__main__":
    main()
