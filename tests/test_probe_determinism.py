"""Probes never change training: bit-identical weights and BatchNorm statistics with the
inside-the-model views open and refreshing as with none, and no hook left after closing."""

from __future__ import annotations

import importlib
import threading

import pytest
import torch
from helpers import make_loader, wait_until

import nbviz
from nbviz.models import SmallCNN
from nbviz.probes.capture import nbviz_hooks
from nbviz.views.feature_maps import FeatureMaps
from nbviz.views.registry import DASHBOARD_TABS
from nbviz.views.structure import ModelStructure

STEPS = 24


def no_hooks_anywhere(model: torch.nn.Module) -> None:
    for name, module in model.named_modules():
        for kind in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks"):
            assert not getattr(module, kind), f"{kind} left on {name or 'the model'}: {getattr(module, kind)}"
    assert nbviz_hooks(model) == []


def train(views: str) -> tuple[dict[str, torch.Tensor], torch.Tensor, int, set[int]]:
    """Train STEPS seeded steps with ``views`` in ("none", "mine", "all") open.

    Returns the state dict, the RNG state after training, the number of probe captures,
    and the training steps those captures saw.
    """
    torch.manual_seed(0)
    session = nbviz.TrainingSession(SmallCNN(), make_loader(), make_loader(64, shuffle=False), epochs=5)
    opened: list = []
    if views != "none":
        maps = FeatureMaps(session, probe_size=4)
        maps.train_interval = 0.0  # capture at every refresh while the step moves on
        opened += [maps, ModelStructure(session)]
        if views == "all":
            for _title, target in DASHBOARD_TABS:
                module, cls = target.split(":")
                if cls not in ("FeatureMaps", "ModelStructure", "DecisionBoundary"):
                    opened.append(getattr(importlib.import_module(module), cls)(session))
        # hooks live only during a probe pass (checked where no probe of the pump can run)
        session.run_at_batch_boundary(lambda: no_hooks_anywhere(session.model)).result(60)
    steps_seen: set[int] = set()
    stop = threading.Event()

    def keep_refreshing() -> None:  # on top of the UI pump: refresh and switch as fast as possible
        layers = list(opened[0].layers)
        i = 0
        while not stop.is_set():
            opened[0].select(layer=layers[i % len(layers)], channel=i % 8)
            for view in opened:
                view.refresh(wait=True) if view is opened[0] else view.refresh()
            steps_seen.add(opened[0]._cache_step)
            i += 1

    def probed_at(step: int) -> None:  # a loaded machine may starve the refresher for a while
        if opened:
            wait_until(lambda: step in steps_seen, 60, f"a feature-map capture at step {step}")

    refresher = threading.Thread(target=keep_refreshing, daemon=True)
    if opened:
        refresher.start()
    probed_at(0)
    session.step(STEPS // 2)
    wait_until(lambda: session.state == "paused", 60)
    probed_at(STEPS // 2)  # a probe between training steps, surely
    session.step(STEPS - STEPS // 2)
    wait_until(lambda: session.state == "paused" and session.step_count == STEPS, 60)
    probed_at(STEPS)
    stop.set()
    if opened:
        refresher.join(30)
    captures = opened[0].captures if opened else 0
    for view in opened:
        view.close()
    session.stop()
    no_hooks_anywhere(session.model)
    return session.model.state_dict(), torch.get_rng_state(), captures, steps_seen


@pytest.mark.parametrize("views", ["mine", "all"])
def test_batchnorm_model_trains_bit_identically_with_views_open(views):
    reference, reference_rng, _, _ = train("none")
    weights, rng, captures, steps = train(views)
    assert captures >= 3, "the feature-map view should have probed the model while it trained"
    assert any(0 < step < STEPS for step in steps), f"no probe ran between training steps: {sorted(steps)}"
    for name, value in reference.items():
        assert torch.equal(weights[name], value), f"{name} differs with the {views} views open"
    assert any("running_mean" in name for name in reference)
    assert torch.equal(rng, reference_rng)
