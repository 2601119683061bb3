"""Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536, which makes glibc mmap and unmap a
small CNN's buffers at every step; trials on workers tune the allocator over that setting."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CODE = """
import resource, torch, nbviz
from nbviz.session.allocator import tune_for_training
from nbviz.sweep.trial import DASK_WORKER_MALLOC_ENV
torch.set_num_threads(1)
torch.manual_seed(0)
model = nbviz.models.SmallCNN(); opt = torch.optim.SGD(model.parameters(), lr=0.01)
x = torch.rand(64, 1, 28, 28); y = torch.randint(0, 10, (64,))
def faults(steps=20):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(steps):
        opt.zero_grad(); torch.nn.functional.cross_entropy(model(x), y).backward(); opt.step()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
faults(3)
untuned = faults()
assert not tune_for_training().applied  # a MALLOC_ setting looks like the user's own
assert tune_for_training(ignore_env=DASK_WORKER_MALLOC_ENV).applied
assert tune_for_training(ignore_env=DASK_WORKER_MALLOC_ENV).applied
faults(3)
print(untuned, faults())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc")
def test_tuning_stops_the_page_faults_a_dask_worker_environment_causes():
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}  # what dask's nanny sets
    out = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    untuned, tuned = map(int, out.stdout.split())
    assert untuned > 50_000 and tuned < untuned / 10, (untuned, tuned)
