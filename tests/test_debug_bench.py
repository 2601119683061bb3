"""The planted-bug bench's runner judges detection, localisation and false alarms (a subset)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parents[1] / "bench" / "debugging" / "run.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("nbviz_debug_bench", RUN)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_bench_has_enough_programs(bench):
    paths = bench.programs()
    bugs = [p for p in paths if p.stem.startswith("bug_")]
    good = [p for p in paths if p.stem.startswith("ok_")]
    assert len(bugs) >= 30 and len(good) >= 10
    for path in paths:  # every program declares what it expects
        program = bench.load(path)
        assert callable(program.build)
        assert bool(program.EXPECT) == path.stem.startswith("bug_")


@pytest.mark.parametrize("name", ["bug_tutorial_view", "bug_softmax_before_ce",
                                  "bug_missing_zero_grad", "bug_optimizer_before_new_head"])
def test_planted_bug_is_detected_and_localised(bench, name):
    result = bench.evaluate(bench.PROGRAMS / f"{name}.py")
    assert result.detected, result.flagged
    assert result.localised, result.flagged


def test_correct_program_raises_no_alarm(bench):
    result = bench.evaluate(bench.PROGRAMS / "ok_tiny_cnn.py")
    assert not result.buggy and result.flagged == []


def test_summary_counts(bench):
    results = [bench.Result("a", True, True, True, 1.0), bench.Result("b", True, False, None, 2.0),
               bench.Result("c", False, False, None, 3.0, ["x@y"])]
    s = bench.summarise(results)
    assert (s["bugs"], s["detected"], s["false_alarms"], s["localised"], s["localisable"]) == \
        (2, 1, 1, 1, 1)
    assert s["seconds_per_program"] == 2.0
