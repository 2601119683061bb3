"""In JupyterLab: run the quickstart, press Start then Pause, and the step counter stops."""

from __future__ import annotations

import re
import time

from lab import cell_errors, open_notebook, run_all_cells, screenshot


def step_of(locator) -> int:
    match = re.search(r"step (\d+)", locator.inner_text())
    assert match, locator.inner_text()
    return int(match.group(1))


def test_quickstart_start_then_pause_stops_the_step_counter(page, lab):
    open_notebook(page, lab, "01_quickstart.ipynb")
    run_all_cells(page, timeout=420)
    assert not [e for e in cell_errors(page) if "Traceback" in e]

    dashboard = page.locator(".nbviz-dashboard").nth(1)  # the reloaded run, with epochs to go
    dashboard.scroll_into_view_if_needed()
    counter = dashboard.locator(".nbviz-step")
    before = step_of(counter)
    dashboard.get_by_role("button", name="Start").click()
    deadline = time.monotonic() + 60
    while step_of(counter) <= before + 3:
        assert time.monotonic() < deadline, "the step counter did not move after Start"
        time.sleep(0.2)

    dashboard.get_by_role("button", name="Pause").click()
    status = dashboard.locator(".nbviz-status")
    deadline = time.monotonic() + 60  # a hang guard
    while "paused" not in status.inner_text():
        assert time.monotonic() < deadline, f"not paused: {status.inner_text()}"
        time.sleep(0.2)
    paused_at = step_of(counter)
    time.sleep(2.0)
    assert step_of(counter) == paused_at
    screenshot(page, "quickstart_paused")
