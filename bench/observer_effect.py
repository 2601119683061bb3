"""Observer effect: training speed with nbviz, TensorBoard or wandb attached vs a plain loop.

Each round runs, for every attached mode in a shuffled order, a short *pair*: the plain
loop on the main thread and the attached mode, in a random order within the pair; the
ratio of the pair (plain ms/step / mode ms/step, i.e. samples/s kept) is one sample. The
median over rounds is printed with a 95% bootstrap confidence interval, and for each mode
the costs that explain it, per step: process CPU time, page faults (whole process, and the
training thread alone via RUSAGE_THREAD), voluntary/involuntary context switches.

Modes (the pytorch/examples MNIST CNN, batch 64, 2 torch threads, in-memory batches):
  plain           the plain loop on the main thread (the baseline of every pair)
  thread          the same loop in a new thread
  session         a TrainingSession alone (its training thread, no widgets)
  dashboard       the session with a Dashboard (controls and curves; the UI pump running,
                  widgets sending into recording comms as without a front end)
  all tabs        the dashboard with every tab opened once and ``--shown`` displayed
  tensorboard     SummaryWriter: loss scalar every step, weight and gradient histograms
                  every 100 steps (of the mode's running step count)
  wandb           wandb offline (WANDB_MODE=offline, files in a temp dir), wandb.watch(
                  log="all") plus wandb.log of the loss every step

The allocator is the same for every mode (``--allocator tuned``: nbviz's glibc tuning applied
process-wide first, as a session does; ``default``: glibc as it comes, NBVIZ_TUNE_ALLOCATOR=0).

Run: python bench/observer_effect.py [--rounds 10] [--steps 30] [--warmup 3]
     [--modes session,dashboard,...] [--allocator tuned|default]
Needs the [bench] extra (tensorboard, wandb) for those two modes; they are skipped if absent.
Budget: session, dashboard, all tabs >= 0.99 of plain.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
from _loops import Meter, Reading, Workload, make_workload, median_ci, plain_loop  # noqa: E402
from torch import nn  # noqa: E402

import nbviz  # noqa: E402
from nbviz.devtools import CommRecorder  # noqa: E402
from nbviz.session import allocator  # noqa: E402
from nbviz.views.context import context_for  # noqa: E402

ALL_MODES = ("thread", "session", "dashboard", "all tabs", "tensorboard", "wandb")


class ThreadMeter(Meter):
    """A Meter that also reads the CPU time of the thread it runs in (the training thread's
    own work, which other processes on the machine barely change: the "thr.cpu" column)."""

    def start(self) -> None:
        self._thread0 = time.thread_time()
        super().start()

    def stop(self, steps: int) -> Reading:
        reading = super().stop(steps)
        reading.thread_cpu = time.thread_time() - self._thread0  # type: ignore[attr-defined]
        return reading


def _cpu_clock(thread: threading.Thread | None) -> int | None:
    """The CPU-time clock of another thread (None if it has none)."""
    return None if thread is None or thread.ident is None else time.pthread_getcpuclockid(thread.ident)


def _read(clock: int | None) -> float:
    try:
        return time.clock_gettime(clock) if clock is not None else float("nan")
    except OSError:  # the thread ended
        return float("nan")


def thread_cpu_ms(reading: Reading) -> float:
    return 1e3 * getattr(reading, "thread_cpu", float("nan")) / max(reading.steps, 1)


class Mode:
    """One way of training; ``run(n, warmup)`` trains warmup + n steps, measures the last n."""

    name = ""

    def __init__(self, work: Workload) -> None:
        self.work = work
        self.cursor = 0
        self.comm_rates: list[float] = []
        self.pump_shares: list[float] = []
        self.pump_cpu: list[float] = []  # CPU seconds of the UI pump thread per second

    def batches(self, n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        out = [self.work.batches[(self.cursor + i) % len(self.work.batches)] for i in range(n)]
        self.cursor += n
        return out

    def run(self, n: int, warmup: int) -> Reading:
        raise NotImplementedError

    def close(self) -> None:
        pass


class Plain(Mode):
    name = "plain"

    def run(self, n: int, warmup: int) -> Reading:
        plain_loop(self.work, self.batches(warmup))
        meter = ThreadMeter()
        meter.start()
        plain_loop(self.work, self.batches(n))
        return meter.stop(n)


class PlainThread(Plain):
    name = "thread"

    def run(self, n: int, warmup: int) -> Reading:
        out: list[Reading] = []
        thread = threading.Thread(target=lambda: out.append(Plain.run(self, n, warmup)))
        thread.start()
        thread.join()
        return out[0]


class Clock(nbviz.Callback):
    """Measures (in the training thread) from the batch end of step ``start`` to ``end``."""

    def __init__(self) -> None:
        self.start_step = self.end_step = 0
        self.meter = ThreadMeter()
        self.reading: Reading | None = None
        self.done = threading.Event()

    def arm(self, start: int, end: int) -> None:
        self.start_step, self.end_step, self.reading = start, end, None
        self.done.clear()

    def on_batch_end(self, run: Any) -> None:
        if run.step_count == self.start_step:
            self.meter.start()
        elif run.step_count == self.end_step:
            self.reading = self.meter.stop(self.end_step - self.start_step)
            self.done.set()


class Session(Mode):
    name = "session"

    def __init__(self, work: Workload, recorder: CommRecorder) -> None:
        super().__init__(work)
        self.recorder = recorder
        # an endless list of the workload's batches: the session never reaches an epoch end
        loader = [work.batches[i % len(work.batches)] for i in range(100_000)]
        self.session = nbviz.TrainingSession(work.model, loader, optimizer=work.optimizer,
                                             epochs=1000)
        self.clock = Clock()
        self.session.add_callback(self.clock)

    def open_views(self) -> Any:
        return None

    def run(self, n: int, warmup: int) -> Reading:
        board = self.open_views()
        self.recorder.reset()
        pump = context_for(self.session).pump
        busy0, t0 = pump.busy_seconds, time.perf_counter()
        pump_clock = _cpu_clock(pump._thread) if board is not None else None
        pump_cpu0 = _read(pump_clock)
        start = self.session.step_count
        self.clock.arm(start + warmup, start + warmup + n)
        self.session.step(warmup + n)
        self.clock.done.wait()  # blocks like an idle kernel: polling would steal the cores
        elapsed = time.perf_counter() - t0
        if board is not None:
            self.comm_rates.append(self.recorder.rate())
            self.pump_shares.append((pump.busy_seconds - busy0) / elapsed)
            self.pump_cpu.append((_read(pump_clock) - pump_cpu0) / elapsed)
        while not self.session.control.waiting:  # the run pauses after its n steps
            time.sleep(0.005)
        if board is not None:
            board.close()
        assert self.clock.reading is not None
        return self.clock.reading

    def close(self) -> None:
        self.session.stop()


class DashboardMode(Session):
    name = "dashboard"

    def open_views(self) -> Any:
        board = nbviz.Dashboard(self.session, tabs=[])
        time.sleep(0.3)  # the first refresh happens before the clock starts
        return board


class AllTabs(Session):
    name = "all tabs"
    shown = "Feature maps"

    def open_views(self) -> Any:
        board = nbviz.Dashboard(self.session)
        titles = list(board.tabs.titles)
        for index in range(1, len(titles)):
            board.tabs.selected_index = index  # builds the view, as a click on the tab does
        board.tabs.selected_index = titles.index(self.shown)
        time.sleep(1.0)  # views finish opening before the clock starts: their one-off work
        deadline = time.monotonic() + 30  # (layer discovery, features) runs while paused
        while not self.session.control._commands.empty() and time.monotonic() < deadline:
            time.sleep(0.05)
        return board


class LoggerMode(Mode):
    """A plain main-thread loop with another tool's logging in it (``loop``)."""

    def loop(self, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        raise NotImplementedError

    def run(self, n: int, warmup: int) -> Reading:
        self.loop(self.batches(warmup))
        meter = ThreadMeter()
        meter.start()
        self.loop(self.batches(n))
        return meter.stop(n)


class TensorBoard(LoggerMode):
    name = "tensorboard"

    def __init__(self, work: Workload, logdir: str) -> None:
        super().__init__(work)
        from torch.utils.tensorboard import SummaryWriter
        self.writer = SummaryWriter(log_dir=os.path.join(logdir, "tb"))
        self.step = 0

    def loop(self, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        model, optimizer, writer = self.work.model, self.work.optimizer, self.writer
        for x, y in batches:
            optimizer.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(x), y)
            writer.add_scalar("loss", loss.item(), self.step)
            loss.backward()
            optimizer.step()
            if self.step % 100 == 0:
                for name, p in model.named_parameters():
                    writer.add_histogram(f"weights/{name}", p, self.step)
                    if p.grad is not None:
                        writer.add_histogram(f"grads/{name}", p.grad, self.step)
            self.step += 1

    def close(self) -> None:
        self.writer.close()


class Wandb(LoggerMode):
    name = "wandb"

    def __init__(self, work: Workload, logdir: str) -> None:
        super().__init__(work)
        os.environ["WANDB_MODE"] = "offline"
        os.environ.setdefault("WANDB_SILENT", "true")
        import wandb
        self.wandb = wandb
        self.run_ = wandb.init(mode="offline", dir=logdir, project="nbviz-observer-bench")
        wandb.watch(work.model, log="all", log_freq=100)

    def loop(self, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        model, optimizer, run = self.work.model, self.work.optimizer, self.run_
        for x, y in batches:
            optimizer.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(x), y)
            run.log({"loss": loss.item()})
            loss.backward()
            optimizer.step()

    def close(self) -> None:
        self.run_.finish()


def build(name: str, recorder: CommRecorder, logdir: str) -> Mode | None:
    work = make_workload("mnist", 64)
    try:
        if name == "thread":
            return PlainThread(work)
        if name == "session":
            return Session(work, recorder)
        if name == "dashboard":
            return DashboardMode(work, recorder)
        if name == "all tabs":
            return AllTabs(work, recorder)
        if name == "tensorboard":
            return TensorBoard(work, logdir)
        if name == "wandb":
            return Wandb(work, logdir)
    except ImportError as exc:
        print(f"skipping {name}: {exc} (pip install nbviz[bench])")
        return None
    raise ValueError(f"unknown mode {name!r}; modes: {', '.join(ALL_MODES)}")


def report(args: argparse.Namespace, modes: list[Mode], readings: dict[str, list[Reading]],
           ratios: dict[str, list[float]], note: str) -> None:
    print(f"machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"{args.rounds} rounds of pairs, {args.steps} measured steps after {args.warmup} warm-up, "
          f"MNIST CNN batch 64, {torch.get_num_threads()} torch threads; allocator: {note}")
    head = (f"{'mode':>12} {'samples/s':>9} {'ratio [95% CI]':>22} {'ms/step':>8} {'cpu ms':>7} "
            f"{'thr.cpu':>7} "
            f"{'faults':>7} {'thr.flt':>7} {'vcsw':>6} {'ivcsw':>6}  extra")
    print(head)
    for name in ["plain", *[m.name for m in modes]]:
        rs = readings[name]
        per = {k: statistics.median(r.per_step()[k] for r in rs) for k in rs[0].per_step()}
        per["thread_cpu_ms"] = statistics.median(thread_cpu_ms(r) for r in rs)
        speed = 1e3 * 64 / per["ms"]
        if name == "plain":
            ratio = f"{'1 (baseline)':>22}"
        else:
            med, lo, hi = median_ci(ratios[name])
            ratio = f"{med:8.3f} [{lo:.3f}, {hi:.3f}]"
        mode = next((m for m in modes if m.name == name), None)
        extra = ""
        if mode is not None and mode.comm_rates:
            extra = (f"comm {statistics.median(mode.comm_rates):.1f}/s, UI pump busy "
                     f"{100 * statistics.median(mode.pump_shares):.2f}% of wall, CPU "
                     f"{1e3 * statistics.median(mode.pump_cpu):.2f} ms/s")
        print(f"{name:>12} {speed:9.0f} {ratio:>22} {per['ms']:8.2f} {per['cpu_ms']:7.2f} "
              f"{per['thread_cpu_ms']:7.2f} "
              f"{per['minflt']:7.1f} {per['thread_minflt']:7.1f} {per['vcsw']:6.1f} "
              f"{per['ivcsw']:6.1f}  {extra}")
    print("ratio: samples/s of the mode / of the plain main-thread loop in the same pair "
          "(median, bootstrap CI); per step, medians over rounds: ms wall, process CPU ms, "
          "CPU ms of the training thread alone (thr.cpu; the rest of cpu ms is torch's worker "
          "threads, the UI pump and the kernel's), "
          "minor page faults (process; thr.flt: the training thread alone), voluntary and "
          "involuntary context switches. Budget: session, dashboard, all tabs >= 0.99.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--modes", default=",".join(ALL_MODES),
                        help=f"comma-separated subset of: {', '.join(ALL_MODES)}")
    parser.add_argument("--allocator", choices=("tuned", "default"), default="tuned")
    parser.add_argument("--shown", default="Feature maps", help="tab shown in 'all tabs'")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    names = [m.strip() for m in args.modes.split(",") if m.strip()]
    if args.allocator == "default":
        os.environ[allocator.ENV_VAR] = "0"
    tuning = allocator.tune_for_training(args.allocator == "tuned")
    note = "glibc tuned (mallopt)" if tuning.applied else tuning.note
    torch.set_num_threads(args.threads)
    AllTabs.shown = args.shown
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as logdir, CommRecorder() as recorder:
        plain = Plain(make_workload("mnist", 64))
        built = [build(name, recorder, logdir) for name in names]
        modes = [m for m in built if m is not None]
        readings: dict[str, list[Reading]] = {m.name: [] for m in [plain, *modes]}
        ratios: dict[str, list[float]] = {m.name: [] for m in modes}
        with contextlib.ExitStack() as stack:
            for mode in modes:
                stack.callback(mode.close)
            plain.run(args.steps, args.warmup)  # warm up everything once
            for mode in modes:
                mode.run(args.steps, args.warmup)
            for _ in range(args.rounds):
                for mode in rng.sample(modes, len(modes)):
                    pair = [plain, mode] if rng.random() < 0.5 else [mode, plain]
                    got = {m.name: m.run(args.steps, args.warmup) for m in pair}
                    readings["plain"].append(got["plain"])
                    readings[mode.name].append(got[mode.name])
                    ratios[mode.name].append(got["plain"].wall / got[mode.name].wall)
            report(args, modes, readings, ratios, note)


if __name__ == "__main__":
    main()
