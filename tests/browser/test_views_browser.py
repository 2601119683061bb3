"""In JupyterLab: every chart view opened on a real run draws finite, readable charts.

Each test writes its own small notebook into the lab root, runs it, drives the view through
the page and checks the SVG that bqplot drew (:func:`lab.assert_charts_ok`); the autouse
fixture in conftest fails the test on any console or page error. Screenshots go to
test-output/views/.
"""

from __future__ import annotations

import re

from lab import (
    assert_charts_ok,
    cell_errors,
    find_in_notebook,
    open_notebook,
    run_all_cells,
    screenshot,
    wait_for,
    write_notebook,
)

SETUP = """\
import torch, nbviz
torch.manual_seed(0)
split = nbviz.datasets.digits()
train_loader, val_loader = split.loaders(batch_size=32)
session = nbviz.TrainingSession(nbviz.models.SmallCNN(), train_loader, val_loader, epochs={epochs}, lr=0.05)
"""


def _run(page, lab, name: str, cells: list[str]) -> None:
    open_notebook(page, lab, write_notebook(lab, name, cells))
    run_all_cells(page, timeout=300)
    assert not [e for e in cell_errors(page) if "Traceback" in e], cell_errors(page)


def _state(dashboard) -> str:
    return dashboard.locator(".nbviz-status").inner_text()


def _step(dashboard) -> int:
    match = re.search(r"step (\d+)", dashboard.locator(".nbviz-step").inner_text())
    return int(match.group(1)) if match else 0


def test_training_curves_before_and_after_training(page, lab):
    _run(page, lab, "views_curves.ipynb", [SETUP.format(epochs=3), "dashboard = nbviz.Dashboard(session, tabs=[])\ndashboard"])
    dashboard = find_in_notebook(page, ".nbviz-dashboard")
    curves = dashboard.locator(".nbviz-curves")
    wait_for(lambda: curves.locator(".bqplot.figure .mainheading").count() == 3, 60, "three curve figures")
    before = assert_charts_ok(curves)
    for fig in before:  # empty charts show no made-up axis range
        assert not any(t in ("-0.025", "−0.025") for t in fig["ticks"]), fig
    screenshot(page, "views/curves_before")

    dashboard.get_by_role("button", name="Start").click()
    wait_for(lambda: "finished" in _state(dashboard), 180, "the run to finish")
    figures = assert_charts_ok(curves, must_draw=("loss", "accuracy", "learning rate"))
    by_title = {f["title"]: f for f in figures}
    for title in ("loss", "accuracy", "learning rate"):
        lines = [line for m in by_title[title]["marks"] for line in m["lines"] if line["points"] >= 2]
        assert lines, f"{title}: no line of 2+ points drawn: {by_title[title]}"
    for fig in figures:
        numbers = [float(t.replace("−", "-").replace(",", "")) for t in fig["ticks"]
                   if re.fullmatch(r"[−-]?[0-9.,]+(e[−-]?[0-9]+)?", t)]
        assert numbers and min(numbers) >= 0, f"{fig['title']}: a negative tick for data >= 0: {fig['ticks']}"
    screenshot(page, "views/curves_after")
