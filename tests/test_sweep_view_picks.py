"""The sweep view's trial buttons need a picked trial and say so, each in its own words."""

from __future__ import annotations

import pytest

from nbviz.sweep import Sweep
from nbviz.views.sweep import SweepView


def bowl(trial):
    return (trial["x"] - 0.3) ** 2


@pytest.mark.parametrize("button, words", [
    ("stop_trial_button", "pick a trial first"),
    ("clone_button", "pick a trial to clone first"),
    ("dashboard_button", "pick a trial first"),
])
def test_a_trial_button_without_a_picked_trial_asks_for_one(tmp_path, button, words):
    view = SweepView(Sweep(bowl, {"x": [0.1, 0.2]}, storage=tmp_path, executor="serial"))
    try:
        assert view.trial_pick.value == -1  # no trials yet: nothing picked
        getattr(view, button).click()
        view.refresh()
        assert words in view.message.value and "nbviz-warning" in view.message.value
        assert view._dashboard_asked is None and not view.sweep.records.trials
    finally:
        view.close()
