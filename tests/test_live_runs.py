"""nbviz.session.live: runs left going are found, stopped and joined (the suite's leak guard)."""

from __future__ import annotations

import gc
import os
import threading
from pathlib import Path

import torch
from helpers import make_loader, wait_until

import nbviz
from nbviz.models import SmallCNN
from nbviz.session import live


def new_session() -> nbviz.TrainingSession:
    torch.manual_seed(0)
    return nbviz.TrainingSession(SmallCNN(width=4), make_loader(), epochs=1000)


def test_a_running_and_a_paused_run_are_stopped_and_joined():
    running, paused = new_session(), new_session()
    try:
        running.start()
        paused.step(2)
        wait_until(lambda: paused.state == "paused" and running.step_count >= 1, 60)
        assert {id(s) for s in live.running()} >= {id(running), id(paused)}
        found = live.stop_all(timeout=60)
        assert any(line.startswith("TrainingSession running at step") for line in found)
        assert any(line == "TrainingSession paused at step 2" for line in found)
        for session in (running, paused):
            assert session.state == "stopped" and not session.loop_thread.is_alive()
        assert live.running() == [] and live.stop_all() == []
    finally:
        running.stop()
        paused.stop()


def test_a_finished_run_is_not_reported():
    session = nbviz.TrainingSession(SmallCNN(width=4), make_loader(32), epochs=1)
    session.start()
    session.wait(timeout=60)
    assert session not in live.running() and live.stop_all() == []


def test_a_watch_loop_run_in_a_thread_is_stopped():
    model = SmallCNN(width=4)
    viz = nbviz.watch(model, torch.optim.SGD(model.parameters(), lr=0.01))
    started = threading.Event()

    def loop() -> None:  # a watched loop ends when a checkpoint answers False (after Stop)
        while viz.checkpoint():
            started.set()

    viz.run_in_thread(loop)
    try:
        assert started.wait(60), "the watched loop never reached a checkpoint"
        assert live.stop_all(timeout=60) != []
        assert not viz.loop_thread.is_alive()
    finally:
        viz.stop()
        viz.wait(timeout=60)


def test_tracking_does_not_keep_a_session_alive():
    session = new_session()
    ref = id(session)
    del session
    gc.collect()
    assert all(id(s) != ref for s in live._runs)


LEAKY_TEST = '''
import nbviz, torch
from helpers import make_loader
from nbviz.models import SmallCNN

def test_leaks_a_run():
    nbviz.TrainingSession(SmallCNN(width=4), make_loader(), epochs=1000).start()

def test_leaves_a_worker_thread():
    import threading
    threading.Thread(target=threading.Event().wait, args=(30,), name="nbviz-worker", daemon=True).start()

def test_fails_and_leaks_a_run():
    nbviz.TrainingSession(SmallCNN(width=4), make_loader(), epochs=1000).start()
    assert False, "failed on purpose"
'''


def test_the_suite_fails_a_passing_test_that_leaves_a_run_going(pytester, monkeypatch):
    tests = Path(__file__).parent
    pytester.makeconftest((tests / "conftest.py").read_text())
    pytester.makepyfile(test_leaky=LEAKY_TEST)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tests), os.environ.get("PYTHONPATH", "")]))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=2, failed=1, errors=1, warnings=1)
    result.stdout.fnmatch_lines(["*test left a running session*TrainingSession running at step*"])
    # the failed test is cleaned up without a second report
    assert "failed on purpose" in result.stdout.str()
    assert "ERROR at teardown of test_fails_and_leaks_a_run" not in result.stdout.str()
    # other nbviz threads still alive after a test are reported (not failed)
    result.stdout.fnmatch_lines(["*test_leaves_a_worker_thread left nbviz threads running: nbviz-worker*"])
