"""In JupyterLab: pressing Play bends the playground's boundary and changes its network
diagram's edges; resting the pointer on a node (in the diagram, or in a DecisionBoundary's
unit grid) enlarges its map; the curves draw finite coordinates; the "Decision plane" tab asks
for three images and draws the plane through the three clicked. Any console error fails
(conftest). Screenshots at 1400 and 1024 px go to test-output/."""

from __future__ import annotations

import time

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

CELLS = ["""\
import nbviz
play = nbviz.Playground(dataset="spiral", features=["x1", "x2", "sin(x1)", "sin(x2)"], hidden=[8, 8], lr=0.03)
play""", """\
boundary = nbviz.DecisionBoundary(play.session)
boundary"""]

# where js/src/lib/network_layout.js puts node (layer, unit) for layers [4, 8, 8, 2] at 36 px
NODE, GAP, LEFT, SPACING, TOP = 36, 11, 64, 101, 22


def node_centre(layer: int, unit: int, column_size: int, tallest: int = 8) -> tuple[float, float]:
    y0 = TOP + GAP + ((tallest * (NODE + GAP) - GAP) - (column_size * (NODE + GAP) - GAP)) / 2
    return LEFT + layer * SPACING + NODE / 2, y0 + unit * (NODE + GAP) + NODE / 2


def at(canvas, x: float, y: float) -> dict:
    """A canvas pixel as a Playwright position in the displayed (maybe scaled) canvas."""
    box = canvas.bounding_box()
    scale = box["width"] / canvas.evaluate("c => c.width")
    return {"x": x * scale, "y": y * scale}


def data_url(canvas) -> str:
    return canvas.evaluate("c => c.toDataURL()")


def width(canvas) -> int:
    return canvas.evaluate("c => c.width")


def test_play_bends_the_boundary_and_moves_the_diagram_edges_and_hover_enlarges_maps(page, lab):
    open_notebook(page, lab, write_notebook(lab, "playground.ipynb", CELLS))
    run_all_cells(page, timeout=300)
    assert not [e for e in cell_errors(page) if "Traceback" in e], cell_errors(page)
    play = find_in_notebook(page, ".nbviz-playground")
    boundary_map = play.locator(".nbviz-db-map canvas")
    diagram = play.locator(".nbviz-network-diagram canvas")
    zoom = play.locator(".nbviz-network-zoom canvas")
    wait_for(lambda: width(boundary_map) > 100, 60, "the decision map to be drawn")
    wait_for(lambda: width(diagram) > 300, 60, "the network diagram to be drawn")
    wait_for(lambda: "step 0" in play.locator(".nbviz-network-caption").inner_text(), 60, "the diagram's thumbnails")
    assert play.locator(".nbviz-db-units").is_hidden(), "the diagram shows the unit maps in the playground"
    assert_charts_ok(play.locator(".nbviz-curves"))
    screenshot(page, "playground_before")
    map_before, edges_before = data_url(boundary_map), data_url(diagram)
    play.get_by_role("button", name="Play").click()
    deadline = time.monotonic() + 90
    while data_url(boundary_map) == map_before or data_url(diagram) == edges_before:
        assert time.monotonic() < deadline, "the map or the diagram did not change while training"
        time.sleep(0.3)
    time.sleep(4)  # let the boundary bend a little for the screenshot
    play.get_by_role("button", name="Pause").click()
    assert "step 0" not in play.locator(".nbviz-network-caption").inner_text()
    assert_charts_ok(play.locator(".nbviz-curves"), must_draw=("loss",))
    # hover: a hidden unit's map is enlarged while the pointer rests on it, and goes on leaving
    assert width(zoom) == 0
    diagram.hover(position=at(diagram, *node_centre(1, 2, 8)))
    wait_for(lambda: width(zoom) > 100, 60, "the hovered node's map to be enlarged")
    assert "hidden layer 1, unit 2" in play.locator(".nbviz-network-view").inner_text()
    screenshot(page, "playground_hover")
    page.mouse.move(2, 2)
    wait_for(lambda: width(zoom) == 0, 60, "the enlarged map to go when the pointer leaves")
    # a click keeps a node enlarged
    diagram.click(position=at(diagram, *node_centre(3, 1, 2)))
    wait_for(lambda: width(zoom) > 100, 60, "the clicked node's map to stay enlarged")
    assert "class 1 score" in play.locator(".nbviz-network-view").inner_text()
    # the standalone DecisionBoundary's unit grid: hover enlarges a unit too
    alone = find_in_notebook(page, ".nbviz-decision-boundary >> nth=1")
    units, unit = alone.locator(".nbviz-db-units canvas"), alone.locator(".nbviz-db-unit canvas")
    wait_for(lambda: width(units) > 100, 60, "the unit grid to be drawn")
    units.hover(position={"x": 20, "y": 20})
    wait_for(lambda: width(unit) > 100, 60, "the hovered unit's map to be enlarged")
    assert "hidden layer 1, unit 0" in alone.locator(".nbviz-db-unit").inner_text()
    screenshot(page, "playground_trained")
    page.set_viewport_size({"width": 1024, "height": 1000})
    play.scroll_into_view_if_needed()
    time.sleep(1)
    assert_charts_ok(play.locator(".nbviz-curves"))
    screenshot(page, "playground_1024")


PLANE_CELLS = ["""\
import torch, nbviz
torch.manual_seed(0)
split = nbviz.datasets.digits()
train_loader, val_loader = split.loaders(batch_size=32)
session = nbviz.TrainingSession(nbviz.models.SmallCNN(), train_loader, val_loader, epochs=1)
board = nbviz.Dashboard(session, tabs=["Decision plane"])
board"""]


def test_decision_plane_tab_asks_for_three_images_then_draws_the_plane(page, lab):
    open_notebook(page, lab, write_notebook(lab, "plane_tab.ipynb", PLANE_CELLS))
    run_all_cells(page, timeout=300)
    assert not [e for e in cell_errors(page) if "Traceback" in e], cell_errors(page)
    board = find_in_notebook(page, ".nbviz-dashboard")
    board.get_by_role("tab", name="Decision plane").click()
    tab = board.locator(".nbviz-decision-plane-tab")
    tab.wait_for(state="visible", timeout=60_000)
    message = tab.locator(".nbviz-plane-message")
    wait_for(lambda: "pick three images" in message.inner_text(), 60, "the tab to ask for three images")
    gallery = tab.locator(".nbviz-plane-gallery canvas")
    wait_for(lambda: width(gallery) > 100, 60, "the probe images to pick from")
    screenshot(page, "plane_tab_asks")
    for k in range(3):  # tiles are 40 px with 2 px gaps: the first three
        gallery.click(position={"x": 2 + 42 * k + 20, "y": 22})
        if k < 2:
            wait_for(lambda k=k: f"picked {k + 1} of 3" in message.inner_text(), 60, f"{k + 1} picked")
    plane = tab.locator(".nbviz-plane-map canvas")
    wait_for(lambda: width(plane) >= 256, 90, "the plane to be drawn")
    wait_for(lambda: "predicted at A, B, C" in tab.inner_text() and "refining" not in tab.inner_text(), 120,
             "the 64x64 plane")
    assert "the plane through probe images [0, 1, 2]" in message.inner_text()
    screenshot(page, "plane_tab")
    page.set_viewport_size({"width": 1024, "height": 1000})
    tab.scroll_into_view_if_needed()
    time.sleep(1)
    screenshot(page, "plane_tab_1024")
