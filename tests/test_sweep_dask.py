"""nbviz.Sweep on a real Dask cluster on loopback: a scheduler and two workers started here as
processes, objectives defined in ``__main__`` (as in a notebook), a worker killed mid-trial."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

pytest.importorskip("distributed")

from distributed import Client  # noqa: E402

from nbviz.sweep import Sweep  # noqa: E402
from tests.helpers import wait_until  # noqa: E402

NOTEBOOK_CODE = '''
import time, torch, nbviz
from torch import nn

def slow_bowl(trial):
    x = trial["x"]
    for step in range(trial["steps"]):
        time.sleep(0.05)
        trial.report(step, loss=(x - 0.3) ** 2 + 1.0 / (step + 1))
    return (x - 0.3) ** 2

class NotebookNet(nn.Module):  # a class only this "notebook" defines
    def __init__(self, width):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(16, width), nn.ReLU(), nn.Linear(width, 10))
    def forward(self, x):
        return self.net(nn.functional.adaptive_avg_pool2d(x, 4))

def build(lr, width):
    torch.manual_seed(0)
    x = torch.rand(96, 1, 28, 28); y = torch.randint(0, 10, (96,))
    data = torch.utils.data.TensorDataset(x, y)
    loader = torch.utils.data.DataLoader(data, batch_size=32)
    return nbviz.TrainingSession(NotebookNet(width), loader, loader, epochs=2, lr=lr)
'''


def notebook_namespace() -> dict:
    """Functions and a class whose module is __main__: cloudpickle sends them by value."""
    namespace = {"__name__": "__main__"}
    exec(compile(NOTEBOOK_CODE, "<notebook cell>", "exec"), namespace)
    return namespace


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cluster(tmp_path):
    """``dask scheduler`` and two ``dask worker`` processes on loopback; always killed."""
    scheduler_file = tmp_path / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                                       os.environ.get("PYTHONPATH", "")])}
    procs: list[subprocess.Popen] = []
    log = open(tmp_path / "cluster.log", "w")
    try:
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
             "--port", str(free_port()), "--no-dashboard", "--scheduler-file", str(scheduler_file)],
            env=env, stdout=log, stderr=subprocess.STDOUT))
        wait_until(scheduler_file.exists, timeout=60)
        for _ in range(2):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(scheduler_file),
                 "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny", "--no-dashboard"],
                env=env, stdout=log, stderr=subprocess.STDOUT))
        client = Client(scheduler_file=str(scheduler_file), timeout="30s")
        client.wait_for_workers(2, timeout=90)
        yield client
        client.close()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        for proc in procs:
            proc.wait(30)
        log.close()


def test_a_worker_killed_mid_trial_is_retried_and_the_sweep_completes(cluster, tmp_path):
    ns = notebook_namespace()
    pids = cluster.run(os.getpid)  # worker address -> its process
    sweep = Sweep(ns["slow_bowl"], {"x": [0.1, 0.2, 0.3, 0.4], "steps": [30]}, metric="loss",
                  executor=cluster, storage=tmp_path, flush_interval=0.1)
    assert sweep.style == "trial"
    sweep.start()
    wait_until(lambda: any(t.state == "running" and len(t.curves.get("loss", ())) >= 3
                           for t in sweep.trials), timeout=120)
    victim = next(t for t in sweep.trials if t.state == "running")
    number, killed = victim.number, victim.worker
    os.kill(pids[killed], signal.SIGKILL)
    sweep.wait(240)
    records = {t.number: t for t in sweep.trials}
    assert len(records) == 4 and all(t.state == "complete" for t in records.values()), records
    assert records[number].attempts == 2  # ran again, on the worker still alive
    assert records[number].worker != killed and len(pids) == 2
    assert len(records[number].curves["loss"]) == 30  # its curve started over with the new attempt
    # every finished trial is in the storage, with its value
    stored = {t.number: t for t in sweep.study.trials}
    assert all(stored[n].state == optuna.trial.TrialState.COMPLETE and stored[n].value == records[n].value
               for n in records)
    assert sorted(t.params["x"] for t in stored.values()) == [0.1, 0.2, 0.3, 0.4]
    assert sweep.best_params == {"x": 0.3, "steps": 30}
    # and it is all there for a kernel that comes back
    again = Sweep(ns["slow_bowl"], {"x": [0.1, 0.2, 0.3, 0.4], "steps": [30]}, metric="loss",
                  executor=cluster, storage=tmp_path)
    assert {t.number: t.value for t in again.trials} == {n: t.value for n, t in records.items()}


def test_a_notebook_defined_session_builder_trains_on_the_workers_with_pruning(cluster, tmp_path):
    ns = notebook_namespace()
    address = cluster.scheduler.address  # the same cell, given only the scheduler's address
    sweep = Sweep(ns["build"], {"lr": [1e-4, 0.05], "width": [8, 16]}, executor=address,
                  storage=tmp_path, pruner="median")
    started = time.monotonic()
    sweep.start()
    sweep.wait(240)
    workers = {t.worker for t in sweep.trials}
    assert all(t.state in ("complete", "pruned") for t in sweep.trials), [(t.state, t.error) for t in sweep.trials]
    assert all(w.startswith("tcp://127.0.0.1") for w in workers)
    assert all(len(t.curves["val_loss"]) >= 1 for t in sweep.trials)
    assert sweep.best_checkpoint is not None and sweep.best_checkpoint.exists()
    assert time.monotonic() - started < 240
    assert sum(getattr(t, "messages", 0) for t in sweep.trials) > 0
    assert cluster.scheduler_info()["workers"]  # the sweep closed its own client, not the cluster


def test_stop_reaches_a_trial_on_a_worker_and_a_raising_trial_keeps_its_traceback(cluster, tmp_path):
    ns = {"__name__": "__main__"}
    exec("import time\n"
         "def long(trial):\n"
         "    if trial['x'] < 0:\n"
         "        raise ValueError('negative x is not allowed here')\n"
         "    for step in range(400):\n"
         "        time.sleep(0.02)\n"
         "        trial.report(step, train_loss=trial['x'])\n"
         "    return trial['x']\n", ns)
    sweep = Sweep(ns["long"], {"x": [-1.0, 1.0, 2.0]}, metric="loss", executor=cluster, storage=tmp_path,
                  flush_interval=0.1)
    sweep.start()
    wait_until(lambda: any(t.state == "running" and t.params["x"] > 0 and len(t.curves.get("train_loss", ())) > 3
                           for t in sweep.trials), timeout=120)
    victim = next(t for t in sweep.trials if t.state == "running" and t.params["x"] > 0)
    sweep.stop_trial(victim.number)
    sweep.wait(240)
    states = {t.params["x"]: t.state for t in sweep.trials}
    assert states[victim.params["x"]] == "stopped" and len(victim.curves["train_loss"]) < 400
    assert states[-1.0] == "failed"
    failed = next(t for t in sweep.trials if t.state == "failed")
    assert "negative x is not allowed here" in failed.error and "in long" in failed.traceback
    assert [t.state for t in sweep.study.trials].count(optuna.trial.TrialState.PRUNED) == 1


def test_the_default_local_cluster_splits_the_cores_between_worker_processes(tmp_path):
    ns = {"__name__": "__main__"}
    exec("import os, torch\n"
         "def threads(trial):\n"
         "    trial['k']\n"
         "    return torch.get_num_threads() * 1000 + os.getpid() % 1000\n", ns)
    sweep = Sweep(ns["threads"], {"k": [0, 1, 2, 3]}, metric="loss", storage=tmp_path)
    sweep.start()
    sweep.wait(240)
    cores = len(os.sched_getaffinity(0))
    assert all(t.state == "complete" for t in sweep.trials)
    assert {int(t.value) // 1000 for t in sweep.trials} == {1}  # one worker per core, 1 thread each
    assert all(t.worker.startswith("tcp://") for t in sweep.trials)
    assert all(int(t.value) % 1000 != os.getpid() % 1000 for t in sweep.trials)  # not in this process
    assert sweep._executor is None  # the local cluster went with the sweep's end
    sweep.start()  # nothing left to run: no cluster is started again
    sweep.wait(60)
    assert "all 4 trials done" in sweep.records.status and cores >= 1
