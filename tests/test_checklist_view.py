"""The Checklist view: buttons run the checklist or an experiment on copies; the pump shows it."""

from __future__ import annotations

import torch
from helpers import wait_until

import nbviz
from nbviz.views.checklist import Checklist


def make_session(digits_split, **kwargs):
    train, val = digits_split.loaders(batch_size=32)
    return nbviz.TrainingSession(nbviz.models.SmallCNN(), train, val, epochs=1, **kwargs)


def test_run_checks_shows_the_report_and_leaves_the_model_alone(digits_split):
    session = make_session(digits_split)
    weights = {k: v.clone() for k, v in session.model.state_dict().items()}
    view = Checklist(session)
    try:
        assert view.start("checks")
        assert not view.start("overfit")  # one action at a time
        wait_until(lambda: not view.busy, 120)
        view.refresh()
        assert "nbviz.check of SmallCNN: 0 failed" in view.status.value
        assert "forward.shapes" in view.output.value and "<table" in view.output.value
        assert view.last_report is not None and view.last_report.ok
        assert all(torch.equal(v, session.model.state_dict()[k]) for k, v in weights.items())
    finally:
        view.close()
        session.stop()


def test_experiment_buttons_show_their_curve(digits_split):
    session = make_session(digits_split)
    view = Checklist(session)
    try:
        view.lr_button.click()
        wait_until(lambda: not view.busy, 120)
        view.refresh()
        assert "learning-rate range test" in view.output.value and "<svg" in view.output.value
    finally:
        view.close()
        session.stop()


def test_checks_run_at_a_batch_boundary_while_training(digits_split):
    session = make_session(digits_split)
    view = Checklist(session)
    try:
        session.start()
        view.start("overfit")
        wait_until(lambda: not view.busy, 180)
        view.refresh()
        assert "overfit one batch" in view.output.value
    finally:
        view.close()
        session.stop()


def test_checklist_is_a_dashboard_tab(digits_split):
    session = make_session(digits_split)
    dashboard = nbviz.Dashboard(session)
    try:
        assert isinstance(dashboard.view("Checklist"), Checklist)
    finally:
        dashboard.close()
        session.stop()


def test_checklist_of_a_watched_loop_uses_its_probe_data(digits_split):
    train, _ = digits_split.loaders(batch_size=32)
    model = nbviz.models.SmallCNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    viz = nbviz.watch(model, optimizer, probe_data=train)
    view = Checklist(viz)
    try:
        view.start("checks")
        wait_until(lambda: not view.busy, 120)
        view.refresh()
        assert "nbviz.check of SmallCNN" in view.status.value, view.status.value
        assert view.last_report is not None and view.last_report["optimizer.coverage"].status == "pass"
    finally:
        view.close()
