"""In JupyterLab: every chart view opened on a real run draws finite, readable charts.

Each test writes its own small notebook into the lab root, runs it, drives the view through
the page and checks the SVG that bqplot drew (:func:`lab.assert_charts_ok`); the autouse
fixture in conftest fails the test on any console or page error. Screenshots go to
test-output/views/.
"""

from __future__ import annotations

import re
import time

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


VIEWS = ["Structure", "Weights", "Gradients", "Activations"]
INSIDE = [SETUP.format(epochs=2), f"dashboard = nbviz.Dashboard(session, tabs={VIEWS!r})\ndashboard"]


def _check_tab(page, dashboard, title: str, selector: str, must_draw: tuple[str, ...], shot: str):
    dashboard.locator(".lm-TabBar-tab", has_text=title).first.click()
    view = dashboard.locator(selector)
    view.wait_for(state="visible", timeout=60_000)
    figures = assert_charts_ok(view, must_draw=must_draw, timeout=60)
    view.scroll_into_view_if_needed()
    screenshot(page, f"views/{shot}")
    return view, figures


@pytest.mark.parametrize("page", [{"width": 1400, "height": 2000}], indirect=True)  # whole views in a shot
def test_inside_views_draw_on_a_real_run_and_a_graph_click_selects_the_layer(page, lab):
    _run(page, lab, "views_inside.ipynb", INSIDE)
    dashboard = find_in_notebook(page, ".nbviz-dashboard")
    for title in VIEWS:  # open each tab before training (a view records from when it opens)
        dashboard.locator(".lm-TabBar-tab", has_text=title).first.click()
        wait_for(lambda: "opening" not in dashboard.locator(".widget-tab-contents").inner_text(), 60, title)
    dashboard.locator(".lm-TabBar-tab", has_text="Training").first.click()
    dashboard.get_by_role("button", name="Start").click()
    wait_for(lambda: "finished" in _state(dashboard), 120, "the run to finish")

    view, figures = _check_tab(page, dashboard, "Gradients", ".nbviz-gradients",
                               ("gradient RMS", "gradient norm", "update / weight"), "gradients")
    rms = next(f for f in figures if f["title"].startswith("gradient RMS"))
    bars = next(m for m in rms["marks"] if m["kind"] == "bar")
    assert bars["drawn"] >= 3, rms
    ratio = next(f for f in figures if f["title"].startswith("update / weight"))
    assert any(line["span"] > 50 for m in ratio["marks"] for line in m["lines"]), ratio
    assert view.locator(".nbviz-grad-flags, .nbviz-message").count() >= 1

    dashboard.locator(".lm-TabBar-tab", has_text="Weights").first.click()
    wait_for(lambda: "kept" in dashboard.locator(".nbviz-weights").inner_text(), 60, "weight snapshots shown")
    view, figures = _check_tab(page, dashboard, "Weights", ".nbviz-weights",
                               ("over time", "at the selected snapshot"), "weights")
    snapshot = next(f for f in figures if f["title"] == "at the selected snapshot")
    values = [float(t.replace("−", "-")) for t in snapshot["ticks"][:4] if re.fullmatch(r"[−-]?[0-9.]+(e[−-]?\d+)?", t)]
    assert values == sorted(values), f"the value axis runs backwards: {snapshot['ticks']}"
    steps = [t for t in next(f for f in figures if f["title"].startswith("over time"))["ticks"]
             if re.fullmatch(r"\d+", t)]
    assert len(steps) >= 3 and len({int(b) - int(a) for a, b in zip(steps, steps[1:], strict=False)}) == 1, steps
    time.sleep(2.5)  # two pump ticks: the slider still shows (and follows) the newest snapshot
    weights = dashboard.locator(".nbviz-weights")
    kept = re.search(r"\((\d+) of (\d+) kept", weights.inner_text())
    readout = weights.locator(".widget-hslider", has_text="snapshot").locator(".widget-readout").inner_text()
    assert kept and kept.group(1) == kept.group(2) and int(readout) == int(kept.group(2)) - 1, (kept, readout)

    _check_tab(page, dashboard, "Activations", ".nbviz-activations",
               ("std (bars)", "fraction of zeros"), "activations")
    labels = dashboard.locator(".nbviz-activations .bqplot.figure").first.locator(".axis .tick text")
    texts = [t for t in labels.evaluate_all("els => els.map(e => e.textContent)")
             if t and not re.fullmatch(r"[−-]?[0-9.%e]+", t)]
    assert len(texts) >= 5 and len(set(texts)) == len(texts), texts

    view, _ = _check_tab(page, dashboard, "Structure", ".nbviz-structure", ("",), "structure")
    table = view.locator(".nbviz-structure-table select")
    _click_node(view, table, "features.2.0")
    _click_node(view, table, "classifier.1", on_name=True)
    screenshot(page, "views/structure_clicked")


def _names_inside(view) -> list[bool]:
    """Per figure: its 12 layer names are all drawn, each whole inside the figure."""
    return view.evaluate("""root => [...root.querySelectorAll('.bqplot.figure')].map(f => {
      const box = f.getBoundingClientRect();
      const names = [...f.querySelectorAll('.axis .tick text')].filter(t => /[a-z]/.test(t.textContent));
      return names.length === 12 && names.every(t => {
        const r = t.getBoundingClientRect();
        return r.width > 0 && r.left >= box.left - 0.5 && r.right <= box.right + 0.5;
      });
    })""")


def _click_node(view, table, layer: str, on_name: bool = False) -> None:
    """Click the graph node named ``layer`` (its box, or the name drawn on it) and wait for
    the table to select that layer."""
    names = view.locator(".nbviz-structure-graph text.label")
    index = names.evaluate_all("els => els.map(e => e.textContent)").index(layer)
    target = names.nth(index) if on_name else view.locator(".nbviz-structure-graph path.dot").nth(index)
    target.scroll_into_view_if_needed()
    target.click(force=on_name)  # a name lets clicks through to its box (pointer-events: none)
    wait_for(lambda: (table.evaluate("s => s.selectedIndex >= 0 ? s.options[s.selectedIndex].text : ''")
                      .replace("\u00a0", " ").strip().startswith(layer)),
             30, f"the table to follow a click on the graph node {layer}")


STRUCTURES = """\
import torch, torchvision, nbviz
from torch.utils.data import DataLoader, TensorDataset
data = DataLoader(TensorDataset(torch.randn(8, 3, 64, 64), torch.randint(0, 4, (8,))), batch_size=4)
model = torchvision.models.{name}(weights=None, num_classes=4)
nbviz.ModelStructure(nbviz.TrainingSession(model, data, epochs=1))
"""


@pytest.mark.parametrize("page", [{"width": 1280, "height": 1100}], indirect=True)
@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small"])
def test_torchvision_structure_graphs_draw_readable_and_clickable(page, lab, name):
    _run(page, lab, f"structure_{name}.ipynb", [STRUCTURES.format(name=name)])
    view = find_in_notebook(page, ".nbviz-structure")
    figures = assert_charts_ok(view, must_draw=("",), timeout=60)
    marks = {m["kind"]: m for m in figures[0]["marks"]}
    assert marks["dot"]["drawn"] > 60 and marks["line"]["lines"][0]["span"] > 100, marks
    box = view.locator(".nbviz-structure-graph").bounding_box()
    assert box and box["height"] <= 1600 and box["width"] <= 900, box  # balanced columns, not 160 rows
    scroller = view.locator(".nbviz-structure-graph").locator("xpath=..").bounding_box()
    assert scroller and scroller["height"] <= 640, scroller  # the page stays short: the graph scrolls
    screenshot(page, f"views/structure_{name}")
    table = view.locator(".nbviz-structure-table select")
    _click_node(view, table, "layer2.0.conv1" if name == "resnet18" else "features.3.block.0.0", on_name=True)


@pytest.mark.parametrize("page", [{"width": 1024, "height": 800}], indirect=True)
def test_narrow_window_with_the_file_browser_open(page, lab):
    _run(page, lab, "views_narrow.ipynb", [SETUP.format(epochs=2),
                                           "dashboard = nbviz.Dashboard(session, tabs=['Gradients', 'Activations', "
                                           "'Structure'])\ndashboard"])
    browser_panel = page.locator("#filebrowser")
    if not browser_panel.is_visible():
        page.keyboard.press("Control+Shift+F")
    browser_panel.wait_for(state="visible")
    dashboard = find_in_notebook(page, ".nbviz-dashboard")
    dashboard.locator(".lm-TabBar-tab", has_text="Gradients").first.click()
    dashboard.locator(".nbviz-gradients").wait_for(state="visible")
    dashboard.locator(".lm-TabBar-tab", has_text="Training").first.click()
    dashboard.get_by_role("button", name="Start").click()
    wait_for(lambda: "finished" in _state(dashboard), 120, "the run to finish")
    figures = assert_charts_ok(dashboard.locator(".nbviz-curves"), must_draw=("loss", "accuracy", "learning rate"))
    assert all(f["width"] >= 240 for f in figures), [(f["title"], f["width"]) for f in figures]
    screenshot(page, "views/narrow_curves")
    _check_tab(page, dashboard, "Gradients", ".nbviz-gradients",
               ("gradient RMS", "gradient norm", "update / weight"), "narrow_gradients")
    dashboard.locator(".lm-TabBar-tab", has_text="Activations").first.click()
    activations = dashboard.locator(".nbviz-activations")
    wait_for(lambda: all(_names_inside(activations)) and len(_names_inside(activations)) == 2, 60,
             "every layer name of both activation charts drawn whole inside its figure")
    _, figures = _check_tab(page, dashboard, "Activations", ".nbviz-activations", ("std (bars)", "fraction of zeros"),
                            "narrow_activations")
    assert all(f["width"] >= 300 for f in figures), [(f["title"], f["width"]) for f in figures]
    view, _ = _check_tab(page, dashboard, "Structure", ".nbviz-structure", ("",), "narrow_structure")
    _click_node(view, view.locator(".nbviz-structure-table select"), "features.2.0")
