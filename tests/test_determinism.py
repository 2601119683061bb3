"""Attaching nbviz never changes training: bit-identical weights vs a plain loop (CPU)."""

from __future__ import annotations

import time

import pytest
import torch
from helpers import make_loader, wait_until
from torch import nn

import nbviz
from nbviz.models import MnistCNN, SmallCNN

STEPS = 20  # more than one epoch of 16 batches, so validation runs in between

# Tabs that refuse image models by design (2-D-input models only); they have their own
# bit-identity and lifecycle tests (tests/test_decision_boundary.py).
TWO_D_ONLY = {"Decision boundary"}


def plain_loop(model_cls, steps: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = model_cls()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loader = make_loader()
    done = 0
    while done < steps:
        model.train()
        for x, y in loader:
            optimizer.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
            done += 1
            if done == steps:
                break
    return model.state_dict()


def with_nbviz(model_cls, steps: int, dashboard: bool) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    session = nbviz.TrainingSession(model_cls(), make_loader(), make_loader(64, shuffle=False),
                                    epochs=5)
    board = None
    if dashboard:
        board = nbviz.Dashboard(session)
        for title in board.tabs.titles[1:]:
            if title in TWO_D_ONLY:
                continue
            board.view(title).set_active(True)  # every view open and refreshing
    session.step(steps // 2)
    wait_until(lambda: session.state == "paused")
    if board is not None:
        for view in board.views.values():
            view.refresh()  # probes run while paused, between the two halves
        time.sleep(0.3)
    session.step(steps - steps // 2)
    wait_until(lambda: session.state == "paused" and session.step_count == steps)
    if board is not None:
        board.close()
    session.stop()
    return session.model.state_dict()


@pytest.mark.parametrize("model_cls", [SmallCNN, MnistCNN], ids=["batchnorm", "dropout"])
def test_weights_bit_identical_with_dashboard_and_in_a_plain_loop(model_cls):
    reference = plain_loop(model_cls, STEPS)
    for dashboard in (False, True):
        weights = with_nbviz(model_cls, STEPS, dashboard)
        for name, value in reference.items():
            assert torch.equal(weights[name], value), f"{name} differs (dashboard={dashboard})"


def test_drawing_the_probe_batch_while_training_runs_changes_nothing():
    """probe_batch forks and reseeds the RNG: it must do so between batches, not mid-step."""
    reference = plain_loop(MnistCNN, STEPS)
    torch.manual_seed(0)
    session = nbviz.TrainingSession(MnistCNN(), make_loader(), make_loader(64, shuffle=False),
                                    epochs=5)
    session.step(STEPS)
    while session.state != "paused" or session.step_count < STEPS:
        session._probe_cache = None  # draw afresh each time, racing the running steps
        session.probe_batch(32)
    session.stop()
    for name, value in reference.items():
        assert torch.equal(session.model.state_dict()[name], value), name
