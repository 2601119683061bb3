"""In JupyterLab: the playground's decision map changes while it trains, and a clicked unit's
map is enlarged (ImageGrid reports clicks; hover shows only the unit's name as a tooltip)."""

from __future__ import annotations

import time

from lab import (
    cell_errors,
    find_in_notebook,
    open_notebook,
    run_all_cells,
    screenshot,
    wait_for,
    write_notebook,
)

CELLS = ["""\
import nbviz
play = nbviz.Playground(dataset="spiral", features=["x1", "x2", "sin(x1)", "sin(x2)"], hidden=[8, 8], lr=0.03)
play"""]


def data_url(canvas) -> str:
    return canvas.evaluate("c => c.toDataURL()")


def test_playground_map_changes_while_training_and_a_clicked_unit_is_enlarged(page, lab):
    open_notebook(page, lab, write_notebook(lab, "playground.ipynb", CELLS))
    run_all_cells(page, timeout=300)
    assert not [e for e in cell_errors(page) if "Traceback" in e], cell_errors(page)
    play = find_in_notebook(page, ".nbviz-playground")
    canvas = play.locator(".nbviz-db-map canvas")
    canvas.wait_for(state="visible", timeout=60_000)
    wait_for(lambda: canvas.evaluate("c => c.width") > 100, 60, "the decision map to be drawn")
    units = play.locator(".nbviz-db-units canvas")
    wait_for(lambda: units.evaluate("c => c.width") > 100, 60, "the unit maps to be drawn")
    screenshot(page, "playground_before")
    before = data_url(canvas)
    play.get_by_role("button", name="Play").click()
    deadline = time.monotonic() + 60
    while data_url(canvas) == before:
        assert time.monotonic() < deadline, "the decision map did not change while training"
        time.sleep(0.3)
    time.sleep(3)  # let the boundary bend a little for the screenshot
    play.get_by_role("button", name="Pause").click()
    unit = play.locator(".nbviz-db-unit canvas")
    assert unit.evaluate("c => c.width") == 0, "no unit is enlarged before a click"
    units.click(position={"x": 20, "y": 20})  # the first unit's tile
    wait_for(lambda: unit.evaluate("c => c.width") > 100, 30, "the clicked unit's map to be enlarged")
    assert "hidden layer 1, unit 0" in play.locator(".nbviz-db-unit").inner_text()
    screenshot(page, "playground_trained")
