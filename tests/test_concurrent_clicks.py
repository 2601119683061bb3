"""Clicks arrive on several threads at once (ipykernel 7 subshells) while training runs."""

from __future__ import annotations

import random
import threading

import pytest
import torch
from helpers import wait_until
from torch.utils.data import DataLoader, TensorDataset

import nbviz
from nbviz.models import SmallCNN
from nbviz.views.context import context_for
from nbviz.views.feature_maps import FeatureMaps


def _session(epochs: int = 1000) -> nbviz.TrainingSession:
    torch.manual_seed(0)
    data = TensorDataset(torch.rand(128, 1, 28, 28), torch.randint(0, 10, (128,)))
    return nbviz.TrainingSession(SmallCNN(), DataLoader(data, batch_size=16),
                                 DataLoader(data, batch_size=64), epochs=epochs)


def _front_end(widget, **state) -> None:
    """What a comm message from the browser does: set_state with raw JSON values."""
    widget.set_state(state)


def test_a_learning_rate_set_and_set_back_within_one_batch_ends_with_the_second():
    session = _session()
    board = nbviz.Dashboard(session, tabs=[])
    session.start(paused=True)
    wait_until(lambda: session.state == "paused")
    lr0 = session.lr
    _front_end(board.controls.lr_field, value=0.02)
    _front_end(board.controls.lr_field, value=lr0)  # back, before any batch ran
    session.step(1)
    wait_until(lambda: session.state == "paused" and session.step_count == 1)
    assert session.lr == pytest.approx(lr0)
    session.stop()
    board.close()


def test_a_storm_of_clicks_from_several_threads_while_training():
    session = _session()
    board = nbviz.Dashboard(session)
    controls = board.controls
    fm: FeatureMaps = board.view("Feature maps")
    n_layers = len(fm.layer_select.options)
    session.start()
    errors: list[BaseException] = []
    bad_values = [None, True, float("nan"), float("inf"), -1, 0, 1e308, "0.1", [1]]

    def clicks(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(400):
                action = rng.randrange(9)
                if action == 0:
                    controls.pause_button.click()
                elif action == 1:
                    controls.start_button.click()
                elif action == 2:
                    _front_end(controls.step_count_field, value=rng.choice([1, 2, 3, None, 0]))
                    controls.step_button.click()
                elif action == 3:
                    value = rng.choice([0.01, 0.02, 0.005, *bad_values])
                    _front_end(controls.lr_field, value=value)
                elif action == 4:
                    _front_end(controls.lr_slider, value=rng.choice([1e-4, 3e-3, 0.5, *bad_values]))
                elif action == 5:
                    _front_end(controls.epochs_field, value=rng.choice([999, 1000, *bad_values]))
                elif action == 6:
                    _front_end(board.tabs, selected_index=rng.choice([0, 1, 2, None, 99]))
                elif action == 7:
                    _front_end(fm.layer_select, index=rng.choice([0, n_layers - 1, None, 999, -1]))
                else:
                    _front_end(fm.channel_slider, value=rng.choice([0, 1, 2, None, 10**9]))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=clicks, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors[:3]
    # the last valid value asked for is the one in force
    _front_end(controls.lr_field, value=0.0123)
    session.resume()
    start = session.step_count
    wait_until(lambda: session.step_count >= start + 2, timeout=60)
    assert session.lr == pytest.approx(0.0123)
    assert controls.lr_field.value == pytest.approx(0.0123)
    # one view per tab, no duplicates left probing the model
    pumped = [v for v in context_for(session).pump._views if isinstance(v, FeatureMaps)]
    assert len(pumped) == 1
    assert 1 <= session.epochs <= 1000
    assert context_for(session).pump.failures == 0
    session.stop()
    assert session.state == "stopped"
    board.close()
    assert not context_for(session).pump._views


def test_front_end_values_are_checked_before_ipywidgets_converts_them():
    session = _session(epochs=3)
    board = nbviz.Dashboard(session, tabs=[])
    controls = board.controls
    lr = session.lr
    _front_end(controls.lr_field, value=True)  # would become 1.0
    _front_end(controls.lr_slider, value=float("inf"))  # would be clamped to the slider's end
    _front_end(controls.lr_field, value=None)
    assert session.requested_hyperparameter("lr") == lr and controls.lr_field.value == lr
    _front_end(controls.epochs_field, value=1e308)  # would freeze the time-left estimate
    assert session.epochs == 3
    controls.refresh()
    assert "refused" in controls.status.value
    _front_end(controls.lr_slider, value=0.0031622776601683794)  # a slider position
    assert controls.lr_field.value == pytest.approx(0.00316) and session.requested_hyperparameter("lr") == 0.00316
    board.close()


def test_step_refused_on_a_finished_run_is_not_remembered():
    session = _session(epochs=1)
    session.start()
    session.wait(timeout=60)
    with pytest.raises(RuntimeError, match="already ran"):
        session.step(1)
    session.set_epochs(2)
    session.start()
    session.wait(timeout=60)
    assert session.state == "finished" and session.epoch == 2  # ran to the end, no stray pause


def test_epochs_cannot_go_below_what_the_run_has_done():
    session = _session(epochs=3)
    session.start()
    session.wait(timeout=60)
    with pytest.raises(ValueError, match="already reached epoch 3"):
        session.set_epochs(2)
    with pytest.raises(ValueError, match="from 1 to"):
        session.set_epochs(10**308)
    assert session.epochs == 3


def test_tabs_chosen_on_several_threads_are_built_by_the_ui_pump_once_each():
    session = _session()
    board = nbviz.Dashboard(session, tabs=["Feature maps", "Weights", "Gradients"])
    builders: list[str] = []
    replace = board._replace_child

    def recording_replace(index, child):
        builders.append(threading.current_thread().name)
        replace(index, child)

    board._replace_child = recording_replace
    session.start()

    def clicks(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(50):
            _front_end(board.tabs, selected_index=rng.choice([1, 2, 3]))

    try:
        threads = [threading.Thread(target=clicks, args=(seed,), name=f"shell-{seed}") for seed in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        chosen = board.tabs.selected_index
        wait_until(lambda: chosen in board.views and board.views[chosen].active, timeout=60)
        assert builders and set(builders) == {"nbviz-ui-pump"}
        assert len(builders) == len(board.views) - 1  # each tab built once (Training is built in __init__)
        assert [i for i, view in board.views.items() if view.active] == [chosen]
    finally:  # a run left going would draw from the global RNG under the next tests
        session.stop()
        board.close()
