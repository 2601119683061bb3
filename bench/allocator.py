"""Net speed and peak RSS of nbviz's CPU allocator tuning, each run in a FRESH process.

For each workload (``mnist``: MNIST CNN, batch 64; ``resnet18``: torchvision resnet18,
weights=None, batch 16 at 224 px) and each mode, a new Python process trains warm-up +
measured steps and reports ms/step, process CPU ms/step, page faults/step and peak RSS:

  plain            the user's plain loop on the main thread, glibc as it comes (the baseline)
  plain tuned      the same loop after nbviz's mallopt tuning
  session          TrainingSession as shipped (tunes the allocator at start)
  session off      TrainingSession(tune_allocator=False)

Rounds alternate the modes in a shuffled order; the ratio is the plain baseline's ms/step
over the mode's within a round (median over rounds, bootstrap 95% CI). Peak RSS is the
process's ru_maxrss (torch and the data included, the same in every mode).

Run: python bench/allocator.py [--workloads mnist,resnet18] [--rounds 3] [--steps 20]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

MODES = ("plain", "plain tuned", "session", "session off")
DEFAULT_STEPS = {"mnist": 60, "resnet18": 8}


def worker(workload: str, mode: str, steps: int, warmup: int, threads: int) -> dict:
    import torch
    from _loops import Meter, make_workload, peak_rss_mb, plain_loop

    import nbviz
    from nbviz.session import allocator

    torch.set_num_threads(threads)
    work = make_workload(workload, warmup + steps)
    if mode.startswith("plain"):
        if mode == "plain tuned":
            assert allocator.tune_for_training().applied
        plain_loop(work, work.batches[:warmup])
        meter = Meter()
        meter.start()
        plain_loop(work, work.batches[warmup:])
        reading = meter.stop(steps)
    else:
        done, box = threading.Event(), {}

        class Clock(nbviz.Callback):
            def on_batch_end(self, run: nbviz.TrainingSession) -> None:
                if run.step_count == warmup:
                    box["meter"] = Meter()
                    box["meter"].start()
                elif run.step_count == warmup + steps:
                    box["reading"] = box["meter"].stop(steps)
                    done.set()

        session = nbviz.TrainingSession(work.model, work.batches, optimizer=work.optimizer,
                                        epochs=1, tune_allocator=mode == "session")
        session.add_callback(Clock())
        session.start()
        session.wait()
        assert session.allocator is not None
        assert session.allocator.applied == (mode == "session"), session.allocator.note
        reading = box["reading"]
    return {**reading.per_step(), "peak_rss_mb": peak_rss_mb()}


def run_worker(workload: str, mode: str, args: argparse.Namespace, steps: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.pop("NBVIZ_TUNE_ALLOCATOR", None)
    if args.omp_wait_policy:
        env["OMP_WAIT_POLICY"] = args.omp_wait_policy
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--worker", workload, mode, str(steps),
         str(args.warmup), str(args.threads)], env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{workload}/{mode} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        workload, mode, steps, warmup, threads = sys.argv[2:7]
        print(json.dumps(worker(workload, mode, int(steps), int(warmup), int(threads))))
        return
    from _loops import median_ci

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="mnist,resnet18")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=None,
                        help=f"measured steps per run (default {DEFAULT_STEPS})")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--omp-wait-policy", choices=("passive", "active"), default=None,
                        help="OMP_WAIT_POLICY for every worker; on a loaded machine use passive: "
                             "libgomp's spinning workers of a lone main-thread loop then stop "
                             "burning the cores (a process with a second OpenMP team, such as a "
                             "session's, already spins less), which skews the comparison")
    args = parser.parse_args()
    rng = random.Random(0)
    print(f"machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"{args.rounds} rounds, each mode a fresh process, {args.threads} torch threads, "
          f"OMP_WAIT_POLICY={args.omp_wait_policy or os.environ.get('OMP_WAIT_POLICY', 'unset')}")
    for workload in [w.strip() for w in args.workloads.split(",") if w.strip()]:
        steps = args.steps or DEFAULT_STEPS.get(workload, 20)
        results: dict[str, list[dict]] = {m: [] for m in MODES}
        for _ in range(args.rounds):
            for mode in rng.sample(MODES, len(MODES)):
                results[mode].append(run_worker(workload, mode, args, steps))
        print(f"\n{workload}: {steps} measured steps after {args.warmup} warm-up")
        print(f"{'mode':>12} {'ms/step':>8} {'vs plain [95% CI]':>24} {'cpu ms':>8} "
              f"{'faults':>8} {'peak RSS MB':>12} {'RSS vs plain':>13}")
        base_rss = statistics.median(r["peak_rss_mb"] for r in results["plain"])
        for mode in MODES:
            rs = results[mode]
            ratios = [p["ms"] / r["ms"] for p, r in zip(results["plain"], rs, strict=True)]
            med, lo, hi = median_ci(ratios)
            rss = statistics.median(r["peak_rss_mb"] for r in rs)
            print(f"{mode:>12} {statistics.median(r['ms'] for r in rs):8.1f} "
                  f"{med:9.3f} [{lo:.3f}, {hi:.3f}] "
                  f"{statistics.median(r['cpu_ms'] for r in rs):8.1f} "
                  f"{statistics.median(r['minflt'] for r in rs):8.0f} {rss:12.0f} "
                  f"{rss - base_rss:+12.0f}")
    print("\nvs plain: samples/s of the mode / of the default plain loop (same round); faults: "
          "minor page faults per step (process); peak RSS: ru_maxrss of the process.")


if __name__ == "__main__":
    main()
