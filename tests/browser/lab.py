"""Drive JupyterLab in headless Chromium: open a notebook, run it, wait, take screenshots."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

OUTPUT_DIR = Path(os.environ.get("NBVIZ_TEST_OUTPUT", Path(__file__).resolve().parents[2] / "test-output"))


def open_notebook(page: Page, lab, name: str) -> None:
    """Open ``name`` (relative to the served folder) and wait for its kernel to be idle."""
    page.goto(f"{lab.url}/lab/tree/{name}?token={lab.token}&reset")
    page.locator(".jp-NotebookPanel").first.wait_for(state="visible", timeout=90_000)
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(state="visible", timeout=60_000)
    accept_kernel_dialog(page)
    wait_kernel_idle(page, timeout=120)


def accept_kernel_dialog(page: Page, wait_s: float = 3.0) -> None:
    """Answer JupyterLab's "Select Kernel" dialog with its default (the notebook's kernel)."""
    dialog = page.locator(".jp-Dialog").filter(has_text="Select Kernel")
    try:
        dialog.wait_for(state="visible", timeout=wait_s * 1000)
    except PlaywrightTimeout:
        return  # no dialog: nothing to answer
    dialog.get_by_role("button", name="Select").click()
    dialog.wait_for(state="hidden")


def wait_kernel_idle(page: Page, timeout: float = 120) -> None:
    """Wait until the kernel has started and is idle (status bar and toolbar agree)."""
    expect(page.locator("#jp-main-statusbar")).to_contain_text("| Idle", timeout=timeout * 1000)
    indicator = page.locator(".jp-NotebookPanel:visible .jp-Notebook-ExecutionIndicator")
    expect(indicator).to_have_attribute("data-status", "idle", timeout=timeout * 1000)


def run_all_cells(page: Page, timeout: float = 300) -> None:
    """Run > Run All Cells, then wait until no cell is queued or running."""
    prompts = page.locator(".jp-NotebookPanel:visible .jp-CodeCell .jp-InputPrompt")
    for _ in range(3):  # a click while the kernel is still connecting can be lost: retry
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()
        accept_kernel_dialog(page, wait_s=1.0)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if any(re.search(r"\[(\*|\d+)\]", t) for t in prompts.all_inner_texts()):
                wait_all_cells_done(page, timeout)
                return
            time.sleep(0.5)
    raise TimeoutError("Run All Cells did not start any cell")


def wait_all_cells_done(page: Page, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    prompts = page.locator(".jp-NotebookPanel:visible .jp-CodeCell .jp-InputPrompt")
    while time.monotonic() < deadline:
        texts = prompts.all_inner_texts()
        if texts and all(re.search(r"\[\d+\]", t) for t in texts):
            wait_kernel_idle(page, timeout=max(1.0, deadline - time.monotonic()))
            return
        time.sleep(0.5)
    raise TimeoutError(f"cells still running after {timeout} s: {prompts.all_inner_texts()}")


def wait_for(predicate, timeout: float, what: str):
    """Poll ``predicate`` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def find_in_notebook(page: Page, selector: str):
    """The first element matching ``selector`` in the notebook, scrolled into view."""
    target = page.locator(selector).first
    target.wait_for(state="attached", timeout=60_000)
    target.scroll_into_view_if_needed()
    return target


def cell_errors(page: Page) -> list[str]:
    """Error outputs shown in the notebook (tracebacks)."""
    return page.locator(".jp-NotebookPanel:visible .jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']"
                        ", .jp-NotebookPanel:visible .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']"
                        ).all_inner_texts()


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot under test-output/ and return its path."""
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUTPUT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
