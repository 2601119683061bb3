"""Test-wide settings: one torch thread per test process keeps runs steady on 2 cores."""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
import warnings
from collections.abc import Iterator

import pytest
import torch

from nbviz.session import live

pytest_plugins = ["pytester"]  # test_live_runs checks the leak guard below in a child pytest

torch.set_num_threads(1)
os.environ.setdefault("MPLBACKEND", "Agg")
# Kernels started by tests (jupyter_client, nbclient, JupyterLab) run this environment's python.
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")


@pytest.fixture
def seeded() -> None:
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def digits_split():
    import nbviz.datasets

    return nbviz.datasets.digits()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Keep each phase's report on the item, so a fixture's teardown knows if the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"_nbviz_rep_{report.when}", report)


def _other_nbviz_threads(before: set[threading.Thread]) -> list[str]:
    """nbviz's own background threads (not training loops) started during a test and still alive."""
    loops = {s.loop_thread for s in live.running()}
    return sorted(t.name for t in threading.enumerate()
                  if t.name.startswith("nbviz") and t not in before and t not in loops
                  and t.is_alive())


@pytest.fixture(autouse=True)
def no_run_left_going(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test, stop every training run still going and join its thread.

    A run left going keeps training and drawing from the global torch RNG, which breaks
    bit-identical tests later in the same process. A test that passed but left one fails
    here (stop the run in ``finally``); one that failed already is only cleaned up.
    """
    before = set(threading.enumerate())
    yield
    left = live.stop_all(timeout=60.0)
    call = getattr(request.node, "_nbviz_rep_call", None)
    if left and call is not None and call.passed:
        pytest.fail("test left a running session (stop it in finally): " + "; ".join(left),
                    pytrace=False)
    others = _other_nbviz_threads(before)
    if others:  # workers end on their own soon after their view closes: give them a moment
        gc.collect()  # a pump ends once its views (held weakly) are gone
        deadline = time.monotonic() + 2.0
        while others and time.monotonic() < deadline:
            time.sleep(0.05)
            others = _other_nbviz_threads(before)
    if others:
        warnings.warn(f"{request.node.nodeid} left nbviz threads running: {', '.join(others)}",
                      stacklevel=1)
