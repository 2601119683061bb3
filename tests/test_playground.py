"""Playground: a real TrainingSession underneath, settings applied live or by rebuilding,
and exported code that trains to the same losses under the same seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import wait_until

from nbviz.views.decision_boundary import DecisionBoundary
from nbviz.views.playground import Playground
from nbviz.views.playground_model import InputFeatures, PlaygroundConfig, build_model, export_code


def run_exported(config: PlaygroundConfig, epochs: int) -> list[float]:
    namespace: dict = {}
    exec(compile(export_code(config, epochs), "<exported>", "exec"), namespace)  # noqa: S102
    return namespace["losses"]


@pytest.mark.parametrize("config", [
    PlaygroundConfig(dataset="xor", features=["x1", "x2", "x1*x2"], hidden=[4, 3], activation="tanh", lr=0.03),
    PlaygroundConfig(dataset="circles", features=["x1^2", "x2^2", "sin(x1)"], hidden=[5], activation="relu",
                     regularization="L2", reg_rate=0.01, batch_size=16, train_percent=70, noise=0.2),
    PlaygroundConfig(dataset="spiral", features=["x1", "sin(x2)"], hidden=[], regularization="L1",
                     reg_rate=0.003, activation="sigmoid", seed=5),
])
def test_exported_code_trains_to_the_same_losses_as_the_playground(config):
    play = Playground(**config.__dict__)
    try:
        session = play.session
        steps = 2 * session.steps_per_epoch
        session.step(steps)
        wait_until(lambda: session.state == "paused" and session.step_count == steps, 60)
        _, playground_losses = session.history.get("train_loss")
        exported = run_exported(config, epochs=2)
        assert len(exported) == steps == len(playground_losses)
        np.testing.assert_array_equal(np.float32(exported), playground_losses.astype(np.float32))
        assert exported[-1] != exported[0]
    finally:
        play.close()


def test_features_module_and_model_take_2d_points():
    features = InputFeatures(["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"])
    x = torch.tensor([[2.0, 3.0]])
    expected = torch.tensor([[2.0, 3.0, 4.0, 9.0, 6.0, float(np.sin(2.0)), float(np.sin(3.0))]])
    assert torch.allclose(features(x), expected)
    model = build_model(PlaygroundConfig(hidden=[3, 2]))
    assert model(torch.zeros(5, 2)).shape == (5, 2)
    state = torch.get_rng_state()
    build_model(PlaygroundConfig())
    assert torch.equal(state, torch.get_rng_state()), "building a network must not move the global RNG"


def test_controls_rebuild_or_apply_live_and_buttons_drive_the_session():
    play = Playground(dataset="gaussians", hidden=[3])
    try:
        assert isinstance(play.boundary, DecisionBoundary) and play.boundary.units_view is not None
        assert play.diagram is not None and play.diagram.sizes == [2, 3, 2]
        first = play.session
        play.lr.value = 0.1  # live: same session, new learning rate
        assert play.session is first and first.lr == pytest.approx(0.1)
        play.regularization.value = "L2"
        play.reg_rate.value = 0.05
        assert play.session is first and (play.loss.kind, play.loss.rate) == ("L2", 0.05)
        play.step_button.click()
        wait_until(lambda: first.state == "paused" and first.step_count == first.steps_per_epoch, 60)
        play.dataset.value = "moons"  # structural: a new network and session, built by the UI pump
        play.settle()
        assert play.session is not first and play.config.dataset == "moons"
        assert first.state in ("stopped", "finished", "idle", "paused") and not first.loop_active
        play.add_layer.click()
        play.settle()
        assert play.config.hidden == [3, 3] and len(play.units_box.children) == 2
        play.units_box.children[1].value = 5
        play.settle()
        assert play.config.hidden == [3, 5]
        assert play.session.model[3].out_features == 5
        play.remove_layer.click()
        play.settle()
        assert play.config.hidden == [3]
        play.feature_boxes["x1*x2"].value = True
        play.settle()
        assert play.session.model[0].names == ["x1", "x2", "x1*x2"]
        play.play_button.click()
        wait_until(lambda: play.session.step_count >= 10, 60)
        play.pause_button.click()
        wait_until(lambda: play.session.state == "paused", 60)
        play.reset_button.click()
        assert play.session.step_count == 0
        play.export_button.click()
        play.settle()
        assert "class PlaygroundNet(nn.Module)" in play.code.value and play.code.layout.display == "block"
    finally:
        play.close()
    assert play.session is not None and not play.session.loop_active


def test_bad_settings_are_refused_and_nothing_is_lost():
    with pytest.raises(ValueError, match="unknown setting.*'depth'"):
        Playground(depth=3)
    with pytest.raises(ValueError, match="dataset 'swirl' is not one of"):
        Playground(dataset="swirl")
    play = Playground()
    try:
        session = play.session
        for box in play.feature_boxes.values():
            box.value = False  # the last one is refused: a network needs an input
        play.settle()
        assert "features must be one or more" in play.message.value
        assert play.config.features == ["x2"] and play.session.model[0].names == ["x2"]
        assert play.feature_boxes["x2"].value, "the refused box shows the feature in force again"
        play.set_hidden([4] * 7)
        play.settle()
        assert "hidden must be 0..6 layers" in play.message.value and len(play.config.hidden) == 2
        assert session is not None
    finally:
        play.close()
