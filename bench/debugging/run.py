"""Planted-bug bench for nbviz.check: detection, false alarms, localisation, seconds per program.

Each program in programs/ defines ``build()`` (the keyword arguments of nbviz.check),
``EXPECT`` (the check ids that should flag its bug; empty for a correct program) and
``WHERE`` (strings any of which the flagged finding's location should contain; ``"#BUG"``
stands for the file and line marked ``#BUG`` in the program; None: not judged).

Usage: PYTHONPATH=$PWD python bench/debugging/run.py [name-substring ...]
"""

from __future__ import annotations

import importlib.util
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROGRAMS = HERE / "programs"


@dataclass
class Result:
    name: str
    buggy: bool
    detected: bool
    localised: bool | None
    seconds: float
    flagged: list[str] = field(default_factory=list)
    note: str = ""


def load(path: Path):
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    spec = importlib.util.spec_from_file_location(f"nbviz_bench_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _targets(path: Path, where: tuple[str, ...]) -> list[str]:
    out = []
    for item in where:
        if item == "#BUG":
            lines = path.read_text().splitlines()
            out += [f"{path.name}:{i + 1}" for i, line in enumerate(lines) if "#BUG" in line]
        else:
            out.append(item)
    return out


def evaluate(path: Path) -> Result:
    """Run nbviz.check on one program and judge its findings."""
    import torch

    import nbviz

    program = load(path)
    expect = set(program.EXPECT)
    torch.manual_seed(0)  # the same initial weights every run
    kwargs = program.build()
    model, loader = kwargs.pop("model"), kwargs.pop("loader")
    started = time.perf_counter()
    report = nbviz.check(model, loader, **kwargs)
    seconds = time.perf_counter() - started
    flagged = [f for f in report if f.flagged]
    hits = [f for f in flagged if f.check in expect]
    localised = None
    if expect and hits and program.WHERE is not None:
        wanted = _targets(path, tuple(program.WHERE))
        localised = any((w == "" and f.location == "") or (w and w in f.location)
                        for f in hits for w in wanted)
    return Result(path.stem, bool(expect), bool(hits), localised, seconds,
                  [f"{f.check}@{f.location}" for f in flagged])


def programs(filters: list[str] | None = None) -> list[Path]:
    paths = sorted(PROGRAMS.glob("*.py"))
    if filters:
        paths = [p for p in paths if any(f in p.stem for f in filters)]
    return paths


def summarise(results: list[Result]) -> dict[str, float]:
    bugs = [r for r in results if r.buggy]
    good = [r for r in results if not r.buggy]
    judged = [r for r in bugs if r.detected and r.localised is not None]
    return {
        "bugs": len(bugs), "detected": sum(r.detected for r in bugs),
        "correct": len(good), "false_alarms": sum(bool(r.flagged) for r in good),
        "localised": sum(bool(r.localised) for r in judged), "localisable": len(judged),
        "seconds_per_program": sum(r.seconds for r in results) / max(len(results), 1),
        "max_seconds": max((r.seconds for r in results), default=0.0),
    }


def main(argv: list[str]) -> int:
    import torch

    results = []
    for path in programs(argv or None):
        result = evaluate(path)
        results.append(result)
        status = ("detected" if result.detected else "MISSED") if result.buggy else \
            ("clean" if not result.flagged else "FALSE ALARM")
        where = {None: "", True: " localised", False: " NOT localised"}[result.localised]
        print(f"{result.name:38s} {status}{where} {result.seconds:5.1f}s  "
              f"{', '.join(result.flagged)[:150]}", flush=True)
    s = summarise(results)
    print(f"\ntorch threads {torch.get_num_threads()}")
    print(f"detected {s['detected']}/{s['bugs']} planted bugs "
          f"({s['detected'] / max(s['bugs'], 1):.0%}); false alarms {s['false_alarms']}/"
          f"{s['correct']} correct programs; localised {s['localised']}/{s['localisable']} "
          f"({s['localised'] / max(s['localisable'], 1):.0%}); "
          f"{s['seconds_per_program']:.1f} s per program (max {s['max_seconds']:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
