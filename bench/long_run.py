"""Long runs stay flat: 100k steps with the dashboard open, cost per step at the start vs the end.

A small MLP (2 -> 64 -> 64 -> 2, batch 32, so 100k steps take minutes) trains in a
TrainingSession with a Dashboard whose every tab was opened once (their recorders attached:
weights/gradients history, captures) and ``--shown`` displayed, the UI pump running with
comms recording as without a front end. The training thread times every step; printed:
ms and training-thread CPU ms per step over the first and the last ``--window`` steps and
their ratio, RSS over time, and the sizes of everything that grows with a run (history
series, events, the weights/gradients ring). The same loop without nbviz (``--baseline``,
default on) runs first, so drift of the model itself (e.g. denormals) is told apart.

Run: python bench/long_run.py [--steps 100000] [--window 1000] [--shown Training]
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from collections import deque
from typing import Any

import torch
from torch import nn

import nbviz
from nbviz.devtools import CommRecorder
from nbviz.session import allocator
from nbviz.views.context import context_for

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_mb() -> float:
    """Current resident set size (not the peak), from /proc/self/statm."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * PAGE / 2**20
    except OSError:
        return float("nan")


def model_and_data(steps: int) -> tuple[nn.Module, torch.optim.Optimizer, list[Any]]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    distinct = []
    for _ in range(64):
        x = torch.randn(32, 2)
        distinct.append((x, (x[:, 0] * x[:, 1] > 0).long()))
    return model, optimizer, [distinct[i % 64] for i in range(steps)]


class StepTimer(nbviz.Callback):
    """Wall and thread-CPU time of every step, and RSS every ``rss_every`` steps."""

    def __init__(self, steps: int, rss_every: int, window: int) -> None:
        # the first and the last `window` steps only: the bench itself must not grow
        self.first_wall: list[float] = []
        self.first_cpu: list[float] = []
        self.wall: deque[float] = deque(maxlen=window)
        self.cpu: deque[float] = deque(maxlen=window)
        self.window = window
        self.rss: list[tuple[int, float]] = []
        self.steps, self.rss_every = steps, rss_every
        self.done = threading.Event()
        self._last: tuple[float, float] | None = None

    def tick(self, step: int) -> None:
        now = (time.perf_counter(), time.thread_time())
        if self._last is not None:
            if len(self.first_wall) < self.window:
                self.first_wall.append(now[0] - self._last[0])
                self.first_cpu.append(now[1] - self._last[1])
            self.wall.append(now[0] - self._last[0])
            self.cpu.append(now[1] - self._last[1])
        self._last = now
        if step % self.rss_every == 0:
            self.rss.append((step, rss_mb()))
        if step >= self.steps:
            self.done.set()

    def on_batch_end(self, run: Any) -> None:
        self.tick(run.step_count)


def plain(steps: int, rss_every: int, window: int) -> StepTimer:
    model, optimizer, batches = model_and_data(steps)
    timer = StepTimer(steps, rss_every, window)
    for step, (x, y) in enumerate(batches, 1):
        optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(x), y)
        loss.item()
        loss.backward()
        optimizer.step()
        timer.tick(step)
    return timer


def attached(steps: int, rss_every: int, window: int, shown: str,
             steps_per_epoch: int) -> tuple[StepTimer, dict]:
    model, optimizer, batches = model_and_data(steps)
    epochs = max(1, -(-steps // steps_per_epoch))
    loader = [batches[i] for i in range(min(steps, steps_per_epoch))]
    timer = StepTimer(steps, rss_every, window)
    with CommRecorder() as recorder:
        session = nbviz.TrainingSession(model, loader, optimizer=optimizer, epochs=epochs)
        session.add_callback(timer)
        board = nbviz.Dashboard(session)
        titles = list(board.tabs.titles)
        for index in range(1, len(titles)):
            board.tabs.selected_index = index
        board.tabs.selected_index = titles.index(shown)
        time.sleep(1.0)
        session.start()
        messages = 0
        while not timer.done.wait(2.0):
            messages += len(recorder.messages)
            recorder.reset()  # the recorder is the bench's, not nbviz's: keep it small
        messages += len(recorder.messages)
        stats = context_for(session)._stats
        sizes = {
            "history series points (max)": max(len(s) for s in session.history.series.values()),
            "history capacity": session.history.capacity,
            "history bytes": session.history.nbytes(),
            "events": len(session.history.events),
            "events dropped": session.history.dropped_events,
            "weights/gradients snapshots": 0 if stats is None else len(stats),
            "weights/gradients samples taken": 0 if stats is None else stats.samples_taken,
            "comm messages": messages,
            "pump ticks": context_for(session).pump.ticks,
            "pump busy ms per tick": round(1e3 * context_for(session).pump.busy_seconds
                                           / max(context_for(session).pump.ticks, 1), 2),
        }
        board.close()
        session.stop()
    return timer, sizes


def window(t: StepTimer, what: str, first: bool, how: Any = statistics.mean) -> float:
    values = getattr(t, f"first_{what}" if first else what)
    return 1e3 * how(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--shown", default="Training", help="the tab displayed")
    parser.add_argument("--steps-per-epoch", type=int, default=1000)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    allocator.tune_for_training()  # the same allocator for the baseline and the session
    rss_every = max(args.steps // 20, 1)
    n = min(args.window, args.steps // 2)
    runs: list[tuple[str, StepTimer]] = []
    if not args.no_baseline:
        runs.append(("plain loop", plain(args.steps, rss_every, n)))
    timer, sizes = attached(args.steps, rss_every, n, args.shown, args.steps_per_epoch)
    runs.append((f"dashboard ({args.shown} shown)", timer))
    print(f"machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"{args.steps:,} steps, MLP 2-64-64-2 batch 32, {args.threads} torch thread(s)")
    for name, t in runs:
        first_w, last_w = window(t, "wall", True), window(t, "wall", False)
        first_c, last_c = window(t, "cpu", True), window(t, "cpu", False)
        print(f"{name:>28}: first {n:,} steps {first_w:.3f} ms/step ({first_c:.3f} CPU), "
              f"last {n:,} {last_w:.3f} ms/step ({last_c:.3f} CPU); last/first "
              f"{last_w / first_w:.3f} wall, {last_c / first_c:.3f} CPU (means); medians "
              f"{window(t, 'wall', True, statistics.median):.3f} -> "
              f"{window(t, 'wall', False, statistics.median):.3f} ms/step")
        trace = ", ".join(f"{step / 1000:g}k {mb:.0f}" for step, mb in t.rss)
        print(f"{'':>28}  RSS MB by step: {trace}")
    for key, value in sizes.items():
        print(f"{key:>32}: {value:,}")


if __name__ == "__main__":
    main()
