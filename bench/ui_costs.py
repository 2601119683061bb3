"""What nbviz costs per training step, in measures a busy machine barely moves.

Wall-clock ratios (bench/observer_effect.py) need a quiet machine to see 1%; this bench
reads CPU time per thread instead, which other processes on the machine hardly change:

  train us/step   CPU time of the training thread per step (time.thread_time inside it)
  pump ms/s       CPU time of the UI pump thread per second of training
                  (clock_gettime on the pump thread's CPU clock, read from outside)
  wakes/s         pump ticks per second (each one takes the GIL from the training thread)
  comm msg/s      comm messages the widgets send per second
  comm kB/s       their size (JSON, as a kernel would serialise it, plus binary buffers)

Modes: ``session`` (a TrainingSession alone), ``dashboard`` (controls and curves),
``all tabs`` (every tab built once, ``--shown`` displayed). Each mode runs ``--rounds``
stretches of ``--seconds`` of training on the MNIST CNN (batch 64, 2 torch threads); the
table gives medians. A ``--tiny`` model (a 2-layer MLP) makes the session's own per-step
Python work stand out against a plain loop run in a thread the same way (``plain``).

Run: python bench/ui_costs.py [--rounds 5] [--seconds 4] [--modes plain,session,dashboard,all tabs]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
from _loops import make_workload, plain_loop  # noqa: E402
from torch import nn  # noqa: E402

import nbviz  # noqa: E402
from nbviz.devtools import CommRecorder  # noqa: E402
from nbviz.session import allocator  # noqa: E402
from nbviz.views.context import context_for  # noqa: E402

ALL_MODES = ("plain", "session", "dashboard", "all tabs")


class SizedRecorder(CommRecorder):
    """A CommRecorder that also serialises each message as a kernel would, counting bytes
    (the serialising runs on the sending thread, as it does in a kernel)."""

    def __init__(self) -> None:
        super().__init__()
        self.nbytes = 0

    def record(self, msg_type: str, data: Any, buffers: Any) -> None:
        size = len(json.dumps(data, default=repr)) + sum(memoryview(b).nbytes for b in buffers or ())
        with self.lock:
            self.nbytes += size
        super().record(msg_type, data, buffers)

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.nbytes = 0


class ThreadClock:
    """CPU time of another thread (by its ident), read from any thread."""

    def __init__(self, thread: threading.Thread) -> None:
        assert thread.ident is not None
        self.clock = time.pthread_getcpuclockid(thread.ident)

    def read(self) -> float:
        try:
            return time.clock_gettime(self.clock)
        except OSError:  # the thread ended
            return float("nan")


def tiny_workload() -> Any:
    work = make_workload("mnist", 8)
    torch.manual_seed(0)
    work.model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 32), nn.ReLU(), nn.Linear(32, 10))
    work.optimizer = torch.optim.SGD(work.model.parameters(), lr=0.01, momentum=0.9)
    return work


class Runner:
    def __init__(self, args: argparse.Namespace, recorder: SizedRecorder) -> None:
        self.args, self.recorder = args, recorder
        self.work = tiny_workload() if args.tiny else make_workload("mnist", 8)
        loader = [self.work.batches[i % len(self.work.batches)] for i in range(1_000_000)]
        self.session = nbviz.TrainingSession(self.work.model, loader, optimizer=self.work.optimizer,
                                             epochs=1000)
        plain_loop(self.work, self.work.batches)  # warm up
        self.step_ms = self._step_ms()

    def _step_ms(self) -> float:
        t0 = time.perf_counter()
        plain_loop(self.work, self.work.batches * 2)
        return max(1e3 * (time.perf_counter() - t0) / (2 * len(self.work.batches)), 0.01)

    def plain(self) -> dict[str, float]:
        steps = max(int(self.args.seconds * 1e3 / self.step_ms), 20)
        out: list[float] = []

        def loop() -> None:
            plain_loop(self.work, self.work.batches[:3])
            t0 = time.thread_time()
            plain_loop(self.work, [self.work.batches[i % 8] for i in range(steps)])
            out.append(time.thread_time() - t0)

        thread = threading.Thread(target=loop)
        thread.start()
        thread.join()
        return {"train us/step": 1e6 * out[0] / steps}

    def attached(self, mode: str) -> dict[str, float]:
        board = None
        if mode == "dashboard":
            board = nbviz.Dashboard(self.session, tabs=[])
        elif mode == "all tabs":
            board = nbviz.Dashboard(self.session)
            titles = list(board.tabs.titles)
            for index in range(1, len(titles)):
                board.tabs.selected_index = index  # builds the view, as a click on the tab does
            board.tabs.selected_index = titles.index(self.args.shown)
            time.sleep(1.0)  # views finish opening: their one-off work (layer discovery,
            deadline = time.monotonic() + 30  # features) runs before the clock starts
            while not self.session.control._commands.empty() and time.monotonic() < deadline:
                time.sleep(0.05)
        session, pump = self.session, context_for(self.session).pump
        session.start()
        time.sleep(1.0)  # warm: the views' first refreshes happen here
        assert session._thread is not None
        train_clock = ThreadClock(session._thread)
        pump_clock = ThreadClock(pump._thread) if board is not None and pump._thread else None
        self.recorder.reset()
        step0, ticks0, wall0 = session.step_count, pump.ticks, time.perf_counter()
        train0, pump0 = train_clock.read(), pump_clock.read() if pump_clock else 0.0
        time.sleep(self.args.seconds)  # blocks like an idle kernel: polling would steal the cores
        train1, steps = train_clock.read(), session.step_count - step0
        wall = time.perf_counter() - wall0
        row = {"train us/step": 1e6 * (train1 - train0) / max(steps, 1)}
        if pump_clock is not None:
            row["pump ms/s"] = 1e3 * (pump_clock.read() - pump0) / wall
            row["wakes/s"] = (pump.ticks - ticks0) / wall
            row["comm msg/s"] = self.recorder.rate()
            with self.recorder.lock:
                row["comm kB/s"] = self.recorder.nbytes / 1e3 / wall
        session.pause()
        while not self.session.control.waiting:
            time.sleep(0.005)
        if board is not None:
            board.close()
        return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4.0, help="measured training per round")
    parser.add_argument("--modes", default=",".join(ALL_MODES))
    parser.add_argument("--shown", default="Feature maps", help="tab shown in 'all tabs'")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tiny", action="store_true", help="a 2-layer MLP: per-step overhead stands out")
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(modes) - set(ALL_MODES)
    if unknown:
        parser.error(f"unknown modes {sorted(unknown)}; modes: {', '.join(ALL_MODES)}")
    allocator.tune_for_training(True)
    torch.set_num_threads(args.threads)
    with SizedRecorder() as recorder:
        runner = Runner(args, recorder)
        rows: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
        try:
            for _ in range(args.rounds):
                for mode in modes:
                    rows[mode].append(runner.plain() if mode == "plain" else runner.attached(mode))
        finally:
            runner.session.stop()
    columns = ("train us/step", "pump ms/s", "wakes/s", "comm msg/s", "comm kB/s")
    print(f"{'tiny MLP' if args.tiny else 'MNIST CNN'} batch 64, {torch.get_num_threads()} torch threads, "
          f"{args.rounds} rounds of {args.seconds:g} s; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores; medians [min, max]")
    print(f"{'mode':>10} " + " ".join(f"{c:>22}" for c in columns))
    for mode in modes:
        cells = []
        for column in columns:
            values = [r[column] for r in rows[mode] if column in r]
            cells.append(f"{statistics.median(values):9.1f} [{min(values):.1f}, {max(values):.1f}]"
                         if values else "-")
        print(f"{mode:>10} " + " ".join(f"{c:>22}" for c in cells))


if __name__ == "__main__":
    main()
