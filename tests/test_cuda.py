"""The same session and probes on a CUDA device (runs only where one is present)."""

from __future__ import annotations

import pytest
import torch
from helpers import make_loader

import nbviz
from nbviz.models import SmallCNN

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_training_and_probes_on_cuda():
    torch.manual_seed(0)
    session = nbviz.TrainingSession(SmallCNN(width=4).cuda(), make_loader(), make_loader(64),
                                    epochs=1)
    assert session.device.type == "cuda"
    board = nbviz.Dashboard(session)
    maps = board.view("Feature maps")
    session.start()
    session.wait(timeout=120)
    maps.refresh()
    board.controls.refresh()
    assert session.state == "finished" and session.history.last("val_accuracy") is not None
    inputs, _ = session.probe_batch(8)
    assert inputs.device.type == "cpu"  # probe data is kept on the CPU, moved per pass
    board.close()
