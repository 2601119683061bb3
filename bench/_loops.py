"""Shared pieces of the training-speed benches: workloads, a plain loop, and meters.

A *workload* is a seeded model, optimizer and a list of in-memory batches, so every mode of
a bench trains the same thing. A :class:`Meter` reads wall time, process CPU time, page
faults and context switches (whole process, and the calling thread where Linux has
``RUSAGE_THREAD``) around a stretch of steps.
"""

from __future__ import annotations

import math
import random
import resource
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

WORKLOADS = ("mnist", "resnet18")


@dataclass
class Workload:
    name: str
    model: nn.Module
    optimizer: torch.optim.Optimizer
    batches: list[tuple[torch.Tensor, torch.Tensor]]

    @property
    def batch_size(self) -> int:
        return len(self.batches[0][0])


def make_workload(name: str, steps: int, seed: int = 0, batch: int | None = None) -> Workload:
    """``mnist``: pytorch/examples' MNIST CNN, batch 64 of 1x28x28 digits (scikit-learn's,
    upscaled); ``resnet18``: torchvision resnet18 (weights=None), batch 16 at 3x224x224.
    ``steps`` batches cycle over a few distinct ones (no data memory growing with steps)."""
    torch.manual_seed(seed)
    if name == "mnist":
        from nbviz.datasets import digits
        from nbviz.models import MnistCNN
        images, labels = digits().train.tensors
        size = batch or 64
        model: nn.Module = MnistCNN()
        distinct = [(images[i * size:(i + 1) * size].clone(), labels[i * size:(i + 1) * size].clone())
                    for i in range(min(8, len(images) // size))]
    elif name == "resnet18":
        from torchvision.models import resnet18
        size = batch or 16
        model = resnet18(weights=None, num_classes=10)
        distinct = [(torch.randn(size, 3, 224, 224), torch.randint(0, 10, (size,)))
                    for _ in range(2)]
    else:
        raise ValueError(f"unknown workload {name!r}; one of {WORKLOADS}")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    batches = [distinct[i % len(distinct)] for i in range(steps)]
    return Workload(name, model, optimizer, batches)


def plain_loop(work: Workload, batches: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> None:
    """What a user writes: zero_grad, forward, loss, loss.item() (logged), backward, step."""
    model, optimizer = work.model, work.optimizer
    model.train()
    for x, y in batches:
        optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(x), y)
        loss.item()
        loss.backward()
        optimizer.step()


_THREAD = getattr(resource, "RUSAGE_THREAD", None)


@dataclass
class Reading:
    """Costs of one stretch of ``steps`` steps (per step: ms, faults, switches)."""

    steps: int
    wall: float
    cpu: float
    minflt: int
    majflt: int
    nvcsw: int
    nivcsw: int
    thread_minflt: int = 0  # the training thread alone (RUSAGE_THREAD), when measured there

    def per_step(self) -> dict[str, float]:
        n = max(self.steps, 1)
        return {"ms": 1e3 * self.wall / n, "cpu_ms": 1e3 * self.cpu / n,
                "minflt": self.minflt / n, "majflt": self.majflt / n,
                "vcsw": self.nvcsw / n, "ivcsw": self.nivcsw / n,
                "thread_minflt": self.thread_minflt / n}


class Meter:
    """Start/stop readings of the whole process (and the calling thread's faults)."""

    def start(self) -> None:
        self._r0 = resource.getrusage(resource.RUSAGE_SELF)
        self._t0 = _thread_faults()
        self._cpu0 = time.process_time()
        self._w0 = time.perf_counter()

    def stop(self, steps: int) -> Reading:
        wall = time.perf_counter() - self._w0
        cpu = time.process_time() - self._cpu0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        r0 = self._r0
        return Reading(steps, wall, cpu, r1.ru_minflt - r0.ru_minflt, r1.ru_majflt - r0.ru_majflt,
                       r1.ru_nvcsw - r0.ru_nvcsw, r1.ru_nivcsw - r0.ru_nivcsw,
                       _thread_faults() - self._t0)


def _thread_faults() -> int:
    return 0 if _THREAD is None else resource.getrusage(_THREAD).ru_minflt


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median_ci(values: Sequence[float], n_boot: int = 2000, level: float = 0.95,
              seed: int = 0) -> tuple[float, float, float]:
    """(median, low, high): a percentile-bootstrap confidence interval of the median."""
    if not values:
        return math.nan, math.nan, math.nan
    rng = random.Random(seed)
    k = len(values)
    meds = sorted(statistics.median(rng.choices(values, k=k)) for _ in range(n_boot))
    tail = (1 - level) / 2
    return (statistics.median(values), meds[int(tail * (n_boot - 1))],
            meds[int((1 - tail) * (n_boot - 1))])
