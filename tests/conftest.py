"""Test-wide settings: one torch thread per test process keeps runs steady on 2 cores."""

from __future__ import annotations

import os
import sys

import pytest
import torch

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
