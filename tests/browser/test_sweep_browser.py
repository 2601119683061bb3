"""In JupyterLab: a sweep's view draws every trial's curve while the trials run, then the
parallel coordinates of all finished trials, with finite coordinates and no console error."""

from __future__ import annotations

import time

import pytest
from lab import (
    assert_charts_ok,
    cell_errors,
    chart_report,
    find_in_notebook,
    open_notebook,
    run_all_cells,
    screenshot,
    wait_for,
    write_notebook,
)

CELLS = ["""\
import time, nbviz
def curve(trial):
    x, y = trial["x"], trial["y"]
    for step in range(40):
        time.sleep(0.04)
        trial.report(step, train_loss=(x - 0.3) ** 2 + y + 1.0 / (step + 1))
        if step % 10 == 9:
            trial.report(step, loss=(x - 0.3) ** 2 + y + 1.0 / (step + 1))
    return (x - 0.3) ** 2 + y
sweep = nbviz.Sweep(curve, {"x": [0.1, 0.2, 0.3], "y": [0.0, 0.5]}, metric="loss", pruner="median",
                    executor="serial", storage="sweeps", flush_interval=0.2)
sweep"""]


def drawn_points(view) -> int:
    figures = chart_report(view)
    curves = next((f for f in figures if "per trial" in f["title"]), None)
    if curves is None:
        return 0
    return sum(line["points"] for m in curves["marks"] for line in m["lines"])


@pytest.mark.parametrize("page", [{"width": 1400, "height": 1400}], indirect=True)
def test_sweep_view_draws_curves_while_trials_run_and_parallel_coordinates(page, lab):
    open_notebook(page, lab, write_notebook(lab, "sweep.ipynb", CELLS))
    run_all_cells(page, timeout=120)
    assert not [e for e in cell_errors(page) if "Traceback" in e], cell_errors(page)
    view = find_in_notebook(page, ".nbviz-sweep")
    assert "no finished trials yet" in view.inner_text()
    view.get_by_role("button", name="Run").click()
    wait_for(lambda: drawn_points(view) >= 4, 60, "the first trial's curve")
    first = drawn_points(view)
    time.sleep(1.5)
    wait_for(lambda: drawn_points(view) > first, 60, "the curves to grow while the trials run")
    wait_for(lambda: "finished: 6 trials" in view.inner_text(), 120, "the sweep to finish")
    figures = assert_charts_ok(view, must_draw=("per trial", "Parameters vs loss"), timeout=60)
    parallel = next(f for f in figures if f["title"].startswith("Parameters vs loss"))
    lines = sum(m["drawn"] for m in parallel["marks"] if m["kind"] == "line")
    assert lines >= 6 + 1, parallel  # one per trial, and the best again in red
    wait_for(lambda: any(f["title"] == "Parameter importance (fANOVA)" and any(m["drawn"] for m in f["marks"])
                         for f in chart_report(view)), 60, "the parameter importances")
    table = view.locator(".nbviz-sweep-table tbody tr")
    assert table.count() == 6
    view.scroll_into_view_if_needed()
    screenshot(page, "views/sweep")
