"""Sweep throughput on 2 local Dask workers vs the same trials one after another in one process,
the sweep view's comm messages per second, and the per-trial overhead of Dask + Optuna.

    .venv/bin/python bench/sweep.py             # default: 8 trials x 4 epochs, about 3-5 min
    .venv/bin/python bench/sweep.py --tiny      # a quick check that it works

Budgets: throughput ratio >= 1.6x on 2 cores; <= 30 comm messages/s whatever the number of
trials. The serial baseline runs in this process with torch using every core (what a user
gets from a plain loop over the grid); the sweep runs one worker process per core with one
torch thread each. Runs alternate (serial, dask, serial, dask...) and the ratio's spread is printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import torch

import nbviz
from nbviz.devtools import CommRecorder
from nbviz.sweep import Sweep

EPOCHS = 4


def build(lr, weight_decay):
    """One trial: the reference CNN on digits (defined here in __main__, sent by value)."""
    torch.manual_seed(0)
    train_loader, val_loader = nbviz.datasets.digits().loaders(batch_size=64)
    model = nbviz.models.SmallCNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    return nbviz.TrainingSession(model, train_loader, val_loader, optimizer=optimizer, epochs=EPOCHS)


def ticker(trial):
    """A light trial for the message count: a train_loss every 50 ms for 2 s (sent in batches)
    and the sweep's metric every 10 steps (each one waits for the pruner, like an epoch end)."""
    for step in range(40):
        time.sleep(0.05)
        trial.report(step, train_loss=trial["x"] + 1.0 / (step + 1))
        if step % 10 == 9:
            trial.report(step, loss=trial["x"] + 1.0 / (step + 1))
    return trial["x"]


GRID = {"lr": [0.01, 0.03, 0.1, 0.3], "weight_decay": [0.0, 1e-4]}


def timed(executor, folder, tag) -> tuple[float, list]:
    sweep = Sweep(build, GRID, storage=folder, name=tag, executor=executor)
    started = time.perf_counter()
    sweep.start()
    sweep.wait()
    wall = time.perf_counter() - started
    assert all(t.state == "complete" for t in sweep.trials), [(t.state, t.error) for t in sweep.trials]
    return wall, sweep.trials


def messages(client, n_trials, folder) -> tuple[float, float, int]:
    from nbviz.views.sweep import SweepView

    with CommRecorder() as recorder:
        sweep = Sweep(ticker, {"x": [i / n_trials for i in range(n_trials)]}, metric="loss",
                      storage=folder, name=f"msgs-{n_trials}", executor=client)
        view = SweepView(sweep)
        recorder.reset()
        started = time.perf_counter()
        sweep.start()
        sweep.wait()
        time.sleep(1.0)  # the view's last refresh
        wall = time.perf_counter() - started
        rate = recorder.rate()
        view.close()
    kernel_in = sum(getattr(t, "messages", 0) for t in sweep.trials)
    return rate, wall, kernel_in


def main() -> None:
    global EPOCHS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--tiny", action="store_true", help="1 epoch, 1 repeat: a quick check that it works")
    args = parser.parse_args()
    EPOCHS = 1 if args.tiny else args.epochs
    repeats = 1 if args.tiny else args.repeats
    msg_trials = (8, 32)
    from distributed import Client, LocalCluster

    cores = len(os.sched_getaffinity(0))
    workers = 2
    print(f"{cores} cores; 8 trials of SmallCNN on digits, {EPOCHS} epochs each; serial with "
          f"{cores} torch threads vs {workers} Dask worker processes x 1 thread")
    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=40)
    client = Client(cluster)
    client.run(torch.set_num_threads, max(1, cores // workers))
    client.run(lambda: __import__("nbviz.sweep"))  # warm imports, as a second sweep would find them
    startup = time.perf_counter() - t0
    ratios, serial_walls, dask_walls, overheads, serial_overheads = [], [], [], [], []
    with tempfile.TemporaryDirectory() as folder:
        torch.set_num_threads(cores)
        for i in range(repeats):
            serial, serial_trials = timed("serial", folder, f"serial-{i}")
            dask, dask_trials = timed(client, folder, f"dask-{i}")
            serial_walls.append(serial)
            dask_walls.append(dask)
            ratios.append(serial / dask)
            overheads += [t.overhead for t in dask_trials]
            serial_overheads += [t.overhead for t in serial_trials]
            busy = sum(t.seconds for t in dask_trials)
            cpu_serial = sum(t.cpu_seconds for t in serial_trials)
            cpu_dask = sum(t.cpu_seconds for t in dask_trials)
            print(f"  run {i + 1}: serial {serial:.1f} s, dask {dask:.1f} s -> {serial / dask:.2f}x "
                  f"(workers busy {busy / (workers * dask):.0%} of the time; CPU in trials: serial "
                  f"{cpu_serial:.1f} s, dask {cpu_dask:.1f} s)")
        # what limits the ratio: torch's own threads already use the cores in the serial run
        from nbviz.sweep.trial import run_trial

        def one_trial(threads: int) -> float:
            torch.set_num_threads(threads)
            result = run_trial(build, "params", 0, {"lr": 0.1, "weight_decay": 0.0}, "val_loss",
                               lambda attempt: None, threads, 0.5, False)  # type: ignore[arg-type, return-value]
            return float(result["seconds"])

        pairs = [(one_trial(1), one_trial(cores)) for _ in range(3)]  # alternated
        one = statistics.median(p[0] for p in pairs)
        per_trial = statistics.median(p[1] for p in pairs)
        torch.set_num_threads(cores)
        intra = one / per_trial
        print(f"  limit: one trial takes {one:.2f} s on 1 thread, {per_trial:.2f} s on {cores} threads "
              f"({intra:.2f}x from torch's threads), so {workers} processes can gain at most about "
              f"{workers / intra:.2f}x over it, less the tail when the last trials leave a worker idle")
        import psutil

        rss = client.run(lambda: psutil.Process().memory_info().rss)
        print(f"  worker RSS after the runs: {', '.join(f'{v / 2**20:.0f} MiB' for v in rss.values())} "
              "(trials on workers tune glibc malloc: nbviz/session/allocator.py, nbviz/sweep/trial.py)")
        spread = f" (min {min(ratios):.2f}, max {max(ratios):.2f})" if len(ratios) > 1 else ""
        print(f"throughput ratio, 2 workers vs serial: {statistics.median(ratios):.2f}x{spread}  (budget >= 1.6x)")
        print(f"  cluster start (not in the ratio): {startup:.1f} s")
        print(f"overhead per trial (kernel submit -> result, minus the trial's own time): "
              f"dask+optuna median {statistics.median(overheads):.3f} s, max {max(overheads):.3f} s; "
              f"serial (optuna only) median {statistics.median(serial_overheads):.3f} s")
        for n in msg_trials:
            rate, wall, sent = messages(client, n, folder)
            print(f"comm messages with {n} trials: {rate:.1f}/s over {wall:.1f} s (budget <= 30/s); "
                  f"worker->kernel events {sent / wall:.1f}/s")
    client.close()
    cluster.close()


if __name__ == "__main__":
    main()
