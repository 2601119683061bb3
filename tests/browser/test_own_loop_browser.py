"""In JupyterLab and Notebook 7: a training loop written in a cell, steered from the dashboard above it."""

from __future__ import annotations

import re
import time

import nbformat
import pytest
from lab import (
    accept_kernel_dialog,
    cell_errors,
    open_notebook,
    screenshot,
    wait_for,
)
from nbformat.v4 import new_code_cell, new_notebook
from playwright.sync_api import expect

SETUP = """\
import time, torch, nbviz
from torch import nn
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 2))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
data = [(torch.randn(32, 8), torch.randint(0, 2, (32,))) for _ in range(25)]
viz = nbviz.watch(model, opt)
viz.dashboard()"""

LOOP = """\
epochs_run = 0
for epoch in viz.epoch_range(500):
    epochs_run += 1
    for x, y in viz.batches(data):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(); loss.backward(); opt.step()
        viz.log(loss=loss.item())
        time.sleep(0.3)  # a batch longer than the counter's refresh (0.25 s)
print("loop ended:", viz.state, "epochs run:", epochs_run, "via", viz.steering)"""


def step_of(locator) -> int:
    match = re.search(r"step (\d+)", locator.inner_text())
    assert match, locator.inner_text()
    return int(match.group(1))


def drawn_loss_points(dashboard) -> int:
    """How many points the train-loss line has drawn (its SVG path's segments)."""
    paths = dashboard.locator(".nbviz-curves path.line")
    best = 0
    for i in range(paths.count()):
        d = paths.nth(i).get_attribute("d") or ""
        best = max(best, len(re.findall(r"[ML]", d)))
    return best


def open_in_notebook7(page, lab, name: str) -> None:
    """Open ``name`` in Notebook 7 (served by the same server) and wait for its kernel."""
    page.goto(f"{lab.url}/notebooks/{name}?token={lab.token}")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(state="visible", timeout=90_000)
    accept_kernel_dialog(page)
    expect(page.locator(".jp-NotebookKernelStatus, .jp-Notebook-ExecutionIndicator").first
           ).to_be_attached(timeout=60_000)
    time.sleep(3.0)  # the kernel connects; Run All below retries the menu if needed


@pytest.mark.parametrize("front_end", ["jupyterlab", "notebook7"])
def test_a_loop_in_a_cell_obeys_pause_resume_and_stop(page, lab, front_end):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text[:200]) if m.type == "error" else None)
    name = f"own_loop_{front_end}.ipynb"
    notebook = new_notebook(cells=[new_code_cell(SETUP), new_code_cell(LOOP)],
                            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                     "language": "python"}})
    nbformat.write(notebook, lab.root / name)
    if front_end == "jupyterlab":
        open_notebook(page, lab, name)
    else:
        open_in_notebook7(page, lab, name)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()

    dashboard = page.locator(".nbviz-dashboard").first
    counter = dashboard.locator(".nbviz-step")
    counter.wait_for(state="visible", timeout=60_000)
    wait_for(lambda: step_of(counter) >= 8, 90, "the loop to run 8 steps")
    time.sleep(1.5)  # two refreshes of the curves
    drawn_during = drawn_loss_points(dashboard)

    dashboard.get_by_role("button", name="Pause").click()
    clicked_at = step_of(counter)
    status = dashboard.locator(".nbviz-status")
    wait_for(lambda: "paused" in status.inner_text(), 60, "the status to say paused")
    paused_at = step_of(counter)
    # the counter shown at the click may be one refresh (< one batch) behind the loop
    assert paused_at <= clicked_at + 2, "the loop stopped within one batch of the click"
    time.sleep(2.0)
    assert step_of(counter) == paused_at
    screenshot(page, f"own_loop_{front_end}_paused")

    dashboard.get_by_role("button", name="Resume").click()
    wait_for(lambda: step_of(counter) >= paused_at + 3, 60, "the loop to go on after Resume")
    dashboard.get_by_role("button", name="Stop").click()
    outputs = page.locator(".jp-Notebook .jp-OutputArea-output")
    output = wait_for(lambda: next((t for t in outputs.all_inner_texts() if "loop ended" in t), ""),
                      60, "the loop's cell to end")
    print(front_end, "->", output)
    assert "loop ended: stopped" in output, output
    assert "kernel subshell" in output or "message pump at each checkpoint" in output, output
    if front_end == "jupyterlab":
        assert "kernel subshell" in output, output
    epochs = int(re.search(r"epochs run: (\d+)", output).group(1))
    assert epochs < 10, "Stop ended the outer epoch loop too"
    assert not [e for e in cell_errors(page) if "Traceback" in e]
    final = step_of(counter)
    wait_for(lambda: "stopped" in status.inner_text(), 60, "the status to say stopped")
    time.sleep(1.5)
    drawn_after = drawn_loss_points(dashboard)
    screenshot(page, f"own_loop_{front_end}_stopped")
    assert drawn_during >= 4, f"the loss line drew {drawn_during} points during the loop"
    assert drawn_after >= final // 2, f"the loss line drew {drawn_after} points for {final} steps"
