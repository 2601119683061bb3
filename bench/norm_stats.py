"""Per-step cost of the BatchNorm statistics backup: the list kept per (epoch, commands) before,
per (tree generation, epoch, commands, pauses) now.

The reference CNN (SmallCNN, two BatchNorm layers, batch 32 of 1x28x28) trains ``--steps``
steps in a TrainingSession, alternating the old key (a copy of the former cache in this file)
and the current one, ``--rounds`` times each (ABBA order). torch runs on one thread, so the
training thread's CPU time (time.thread_time, from on_train_start to on_train_end) is all the
step's compute. Printed: CPU ms per step for each, the ratio current / old per round pair
(median, min-max), how many times each walked the module tree, and a micro-measurement of the
lookup and the save alone (ns per call, thread CPU time over many calls).

Run: python bench/norm_stats.py [--steps 400] [--rounds 8] [--calls 200000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import torch
from torch import nn

import nbviz
from nbviz.models import SmallCNN
from nbviz.session import norm_stats
from nbviz.session.norm_stats import NormStatsBackup

WALKS = {"walks": 0}
_walk = norm_stats.norm_buffers


def counted_walk(model: nn.Module) -> list[torch.Tensor]:
    WALKS["walks"] += 1
    return _walk(model)


norm_stats.norm_buffers = counted_walk  # counts the walks of both keys (they call it by name)


class OldKey(NormStatsBackup):
    """The former cache: found again only at a new epoch or after session commands."""

    def buffers(self, model: nn.Module, moments: tuple[int, ...]) -> list[torch.Tensor]:
        key = moments[:2]  # (epoch, commands_run)
        if self._key != key:
            self._buffers = norm_stats.norm_buffers(model)
            self._key = key
        return self._buffers

    def forget(self) -> None:
        """The former code did not look again when a run started."""


class CpuClock(nbviz.Callback):
    """Training-thread CPU seconds from train start to train end."""

    def on_train_start(self, run: Any) -> None:
        self.t0 = time.thread_time()

    def on_train_end(self, run: Any) -> None:
        self.cpu = time.thread_time() - self.t0


def session_for(kind: str, steps: int) -> nbviz.TrainingSession:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    distinct = [(torch.rand(32, 1, 28, 28, generator=g), torch.randint(0, 10, (32,), generator=g))
                for _ in range(4)]
    session = nbviz.TrainingSession(SmallCNN(), [distinct[i % 4] for i in range(steps)],
                                    epochs=1, tune_allocator=False)
    if kind == "old":
        session._norm = OldKey()
    return session


def train(kind: str, steps: int) -> tuple[float, int]:
    """CPU ms per step and walks of the module tree, for one run."""
    session = session_for(kind, steps)
    clock = CpuClock()
    session.add_callback(clock)
    walks = WALKS["walks"]
    session.start()
    session.wait()
    assert session.step_count == steps
    return 1e3 * clock.cpu / steps, WALKS["walks"] - walks


def per_call(kind: str, calls: int) -> tuple[float, float]:
    """ns per lookup and per save (the backup of one step), thread CPU time."""
    session = session_for(kind, 1)
    backup, model, moments = session._norm, session.model, session._norm_moments
    t0 = time.thread_time()
    for _ in range(calls):
        backup.buffers(model, moments())
    t1 = time.thread_time()
    for _ in range(calls // 10):
        backup.save(model, moments())
    t2 = time.thread_time()
    return 1e9 * (t1 - t0) / calls, 1e9 * (t2 - t1) / (calls // 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--calls", type=int, default=200_000)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the step's whole compute runs in the training thread
    train("new", 20)  # warm up: first-call allocations and lazy imports
    cpu: dict[str, list[float]] = {"old": [], "new": []}
    walks: dict[str, list[int]] = {"old": [], "new": []}
    ratios = []
    for r in range(args.rounds):
        order = ("old", "new") if r % 2 == 0 else ("new", "old")
        got = {}
        for kind in order:
            got[kind], n = train(kind, args.steps)
            cpu[kind].append(got[kind])
            walks[kind].append(n)
        ratios.append(got["new"] / got["old"])
    print(f"SmallCNN, batch 32, {args.steps} steps x {args.rounds} rounds each, torch threads 1")
    for kind in ("old", "new"):
        print(f"  {kind:3} key: training-thread CPU {statistics.median(cpu[kind]):.3f} ms/step "
              f"(min {min(cpu[kind]):.3f}, max {max(cpu[kind]):.3f}); "
              f"module-tree walks per run {statistics.median(walks[kind]):.0f}")
    print(f"  CPU per step, new / old: median {statistics.median(ratios):.4f} "
          f"(min {min(ratios):.4f}, max {max(ratios):.4f}) over {len(ratios)} pairs")
    for kind in ("old", "new"):
        lookup, save = per_call(kind, args.calls)
        print(f"  {kind:3} key alone: lookup {lookup:.0f} ns/call, save (lookup + copy) "
              f"{save:.0f} ns/call")


if __name__ == "__main__":
    main()
