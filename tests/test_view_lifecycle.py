"""Closing views: every widget inside is closed, twice is fine, nothing stays alive."""

from __future__ import annotations

import gc
import weakref

import pytest
import torch
from helpers import wait_until
from ipywidgets.widgets import widget as widget_module
from torch.utils.data import DataLoader, TensorDataset

import nbviz
from nbviz.models import SmallCNN
from nbviz.views.context import context_for

# Tabs that refuse image models by design (2-D-input models only); they have their own
# bit-identity and lifecycle tests (tests/test_decision_boundary.py).
TWO_D_ONLY = {"Decision boundary"}


def _session() -> nbviz.TrainingSession:
    torch.manual_seed(0)
    data = TensorDataset(torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,)))
    return nbviz.TrainingSession(SmallCNN(), DataLoader(data, batch_size=16), DataLoader(data, batch_size=16),
                                 epochs=2)


def _live_widgets() -> int:
    gc.collect()
    return len(widget_module._instances)


def test_thirty_dashboards_created_and_closed_leave_no_widget_and_no_dashboard():
    session = _session()
    context_for(session).layers()  # discovery is cached per run, not per dashboard
    baseline = _live_widgets()
    refs = []
    for i in range(30):
        board = nbviz.Dashboard(session)
        if i % 10 == 0:  # some with every tab built
            for title in board.tabs.titles[1:]:
                if title not in TWO_D_ONLY:
                    board.view(title)
        refs.append(weakref.ref(board))
        board.close()
        del board
    after = _live_widgets()
    print(f"live widgets: baseline {baseline}, after 30 dashboards closed {after}")
    assert after == baseline
    assert all(ref() is None for ref in refs), "a closed dashboard is still referenced"
    assert not context_for(session).pump._views, "closed views are still pumped"


def test_close_twice_is_fine_and_a_view_closes_its_widgets():
    session = _session()
    board = nbviz.Dashboard(session, tabs=["Feature maps"])
    view = board.view("Feature maps")
    inner = [w for w in (view.grid, view.layer_select, view.layout)]
    board.close()
    board.close()
    view.close()
    assert all(w.comm is None for w in inner)
    assert board.comm is None and board.controls.comm is None


def test_a_new_dashboard_of_the_same_run_retires_the_old_one():
    session = _session()
    old = nbviz.Dashboard(session, tabs=["Weights"])
    old_controls = old.controls
    new = nbviz.Dashboard(session, tabs=["Weights"])
    try:
        assert old_controls.closed and not old_controls.active
        assert "newer dashboard" in old.children[0].value
        assert not new.controls.closed
        session.step(2)  # the run goes on under the new dashboard
        wait_until(lambda: session.state == "paused" and session.step_count == 2)
    finally:  # step() leaves the run paused, its thread alive: end it
        session.stop()
        new.close()
        old.close()


def test_history_is_recorded_from_the_moment_a_dashboard_exists():
    session = _session()
    board = nbviz.Dashboard(session, tabs=["Gradients"])
    session.start()
    session.wait(timeout=60)
    view = board.view("Gradients")  # opened after training
    assert view.stats.snapshots(), "no gradient history recorded before the tab was opened"
    board.close()


def test_view_construction_failure_closes_what_it_made():
    session = _session()
    baseline = _live_widgets()
    with pytest.raises(ValueError):
        nbviz.FeatureMaps(session, layer="no.such.layer")
    assert _live_widgets() <= baseline + 1  # the layer cache may add nothing; no view widgets stay
