"""The CPU allocator tuning: applied by a session on the CPU, opt-outs, shown in the dashboard.

mallopt is process-wide and one-way, so each case runs in a fresh Python process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc on Linux")

FAULTS = """
import resource, statistics, torch
torch.set_num_threads(1)  # every page is touched by this thread (RUSAGE_THREAD)
def faults_per_alloc(n=7):
    counts = []
    for _ in range(n):  # 64 MB: above glibc's largest dynamic mmap threshold
        before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
        torch.empty(16 << 20).fill_(1.0)
        counts.append(resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before)
    return statistics.median(counts)
"""


def run_py(code: str, **env: str) -> dict:
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith("MALLOC_") and k not in ("NBVIZ_TUNE_ALLOCATOR", "LD_PRELOAD")}
    environ.update(env)
    script = FAULTS + textwrap.dedent(code)
    out = subprocess.run([sys.executable, "-c", script], env=environ, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


SESSION = """
import json, torch, nbviz
from torch.utils.data import DataLoader, TensorDataset
data = DataLoader(TensorDataset(torch.randn(32, 4), torch.randint(0, 2, (32,))), batch_size=8)
kwargs = {} if TUNE is None else {"tune_allocator": TUNE}
session = nbviz.TrainingSession(torch.nn.Linear(4, 2), data, epochs=1, **kwargs)
before = session.allocator_note()
board = nbviz.Dashboard(session, tabs=[])
default_faults = faults_per_alloc()
session.start(); session.wait()
print(json.dumps({"applied": session.allocator.applied, "note": session.allocator.note,
                  "before": before, "shown": board.allocator_note.value,
                  "default_faults": default_faults, "faults": faults_per_alloc()}))
board.close()
"""


def test_session_on_cpu_tunes_the_allocator_and_page_faults_stop():
    got = run_py("TUNE = None\n" + SESSION)
    assert got["applied"]
    assert "tune_allocator=False" in got["note"] and "NBVIZ_TUNE_ALLOCATOR=0" in got["note"]
    assert "opt out" in got["shown"] and "tuned" in got["shown"]
    # glibc gives a freed 64 MB block back and faults it in again; once tuned it is kept
    assert got["default_faults"] > 10_000
    assert got["faults"] < got["default_faults"] / 10


def test_session_opt_out_leaves_the_allocator_alone():
    got = run_py("TUNE = False\n" + SESSION)
    assert not got["applied"]
    assert "tune_allocator=False" in got["note"] and "left as it is" in got["shown"]
    assert got["faults"] > 10_000


def test_environment_opt_out_wins_over_the_session_default():
    got = run_py("TUNE = None\n" + SESSION, NBVIZ_TUNE_ALLOCATOR="0")
    assert not got["applied"] and "NBVIZ_TUNE_ALLOCATOR=0" in got["note"]
    assert got["faults"] > 10_000


@pytest.mark.parametrize("env, says", [({"MALLOC_ARENA_MAX": "2"}, "MALLOC_ARENA_MAX"),
                                       ({"LD_PRELOAD": "libjemalloc.so.2"}, "jemalloc")])
def test_users_own_allocator_settings_are_respected(env, says):
    got = run_py("""
        import json
        from nbviz.session import allocator
        t = allocator.tune_for_training()
        print(json.dumps({"applied": t.applied, "note": t.note}))
        """, **env)
    assert not got["applied"] and says in got["note"]


def test_tuning_is_applied_once_and_reported_the_same():
    got = run_py("""
        import json
        from nbviz.session import allocator
        assert allocator.current() is None and allocator.plan().applied
        first, second = allocator.tune_for_training(), allocator.tune_for_training()
        print(json.dumps({"same": first is second, "applied": first.applied,
                          "settings": first.settings, "current": allocator.current() is first}))
        """)
    assert got["same"] and got["applied"] and got["current"]
    assert got["settings"]["mmap_threshold"] >= 64 << 20


def test_tune_allocator_must_be_a_bool():
    from helpers import make_loader

    import nbviz
    from nbviz.models import SmallCNN
    with pytest.raises(TypeError, match="tune_allocator"):
        nbviz.TrainingSession(SmallCNN(width=4), make_loader(), tune_allocator="yes")  # type: ignore[arg-type]
