"""In JupyterLab: the loss landscape of a trained digits CNN draws its heat map with contour
lines, the projected path with distances, the current point, and the line from the start to
now; screenshots at 1400 and 1024 px wide."""

from __future__ import annotations

import pytest
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
import torch, nbviz
torch.manual_seed(0)
split = nbviz.datasets.digits()
train_loader, val_loader = split.loaders(batch_size=32)
session = nbviz.TrainingSession(nbviz.models.SmallCNN(), train_loader, val_loader, epochs=2, lr=0.05)
view = nbviz.LossLandscape(session, probe_size=256)
view.directions = "pca"
view.size = 25
view""", "session.start(); session.wait(); session.step_count"]


@pytest.mark.parametrize("page", [{"width": 1400, "height": 1300}], indirect=True)
def test_landscape_draws_surface_path_and_line(page, lab):
    open_notebook(page, lab, write_notebook(lab, "landscape.ipynb", CELLS))
    run_all_cells(page, timeout=300)
    assert not [e for e in cell_errors(page) if "Traceback" in e], cell_errors(page)
    view = find_in_notebook(page, ".nbviz-loss-landscape")
    assert "eval mode" in view.inner_text()
    view.get_by_role("button", name="Compute").click()
    wait_for(lambda: "25 x 25 at step" in view.inner_text(), 180, "the 25 x 25 surface")
    view.get_by_role("button", name="Line: start → now").click()
    wait_for(lambda: "Line from step 0" in view.inner_text(), 120, "the line")
    figures = assert_charts_ok(view, must_draw=("loss on the plane", "loss along the line"), timeout=60)
    view.scroll_into_view_if_needed()
    screenshot(page, "views/landscape")
    plane = next(f for f in figures if f["title"].startswith("loss on the plane"))
    kinds = {m["kind"]: m for m in plane["marks"]}
    heat = view.locator(".bqplot.figure").first.locator("image.heatmap")  # bqplot paints it as one image
    assert heat.count() == 1
    box = heat.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 300, box
    assert (heat.get_attribute("href") or heat.get_attribute("xlink:href") or "").startswith("data:image")
    assert kinds["dot"]["drawn"] >= 3, plane  # the projected path and the current point
    # contour lines (one path of many points, broken between levels) and the dashed path line
    assert kinds["line"]["drawn"] >= 2 and max(line["points"] for line in kinds["line"]["lines"]) > 50, plane
    assert "contours" in view.inner_text()
    # a narrower window (1024 px): the controls wrap, the plane and the line charts still draw
    page.set_viewport_size({"width": 1024, "height": 1300})
    assert_charts_ok(view, must_draw=("loss on the plane", "loss along the line"), timeout=60)
    view.scroll_into_view_if_needed()
    screenshot(page, "views/landscape-1024")
