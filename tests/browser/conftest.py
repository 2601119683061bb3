"""JupyterLab on 127.0.0.1 serving a copy of notebooks/, and Debian's chromium via Playwright."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("NBVIZ_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.browser


@dataclass
class Lab:
    url: str
    token: str
    root: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium (apt-get install chromium)")
    home = tmp_path_factory.mktemp("lab")
    root = home / "notebooks"
    shutil.copytree(ROOT / "notebooks", root, ignore=shutil.ignore_patterns("_build", ".ipynb_checkpoints"))
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    env.update({
        "PATH": os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "MPLBACKEND": "module://ipympl.backend_nbagg",
        # the tutorials train a shorter schedule (as in the notebook tests): these tests are
        # about what the views show and how they respond, not about how far a model learns
        "NBVIZ_FAST": "1",
    })
    settings = home / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        '{"checkForUpdates": false, "fetchNews": "false"}')
    notebook_settings = home / "settings" / "@jupyterlab" / "notebook-extension"
    notebook_settings.mkdir(parents=True)
    # render every cell (no virtual scrolling), so tests see all prompts and widgets
    (notebook_settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    log = open(home / "lab.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
         "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False",
         "--LabApp.news_url=", "--ServerApp.disable_check_xsrf=True"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            break
        except OSError as exc:
            if process.poll() is not None or time.monotonic() > deadline:
                log.close()
                raise RuntimeError("JupyterLab did not start:\n"
                                   + (home / "lab.log").read_text()[-3000:]) from exc
            time.sleep(0.5)
    yield Lab(url, token, root)
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-dev-shm-usage"])
        yield browser
        browser.close()


def _console_text(message) -> str:
    location = message.location or {}
    where = f" ({location.get('url', '')}:{location.get('lineNumber', '')})" if location else ""
    return f"console.{message.type}: {message.text}{where}"


@pytest.fixture
def console_errors() -> list[str]:
    """Console errors and uncaught page errors seen by this test's page (filled as they come)."""
    return []


@pytest.fixture
def page(browser, lab, console_errors, request):
    viewport = getattr(request, "param", None) or {"width": 1400, "height": 1000}
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.on("console", lambda m: console_errors.append(_console_text(m)) if m.type == "error" else None)
    page.on("pageerror", lambda e: console_errors.append(
        f"pageerror: {e} | " + " / ".join((getattr(e, "stack", "") or "").splitlines()[1:4])))
    yield page
    context.close()


# Errors of Notebook 7's own application (not of widgets), seen on every page it opens here:
# its settings and file-browser plugins racing on start-up, and a font its static handler
# refuses. Matched exactly, and only for Notebook 7's bundle: anything else still fails.
NOTEBOOK7_APP_ERRORS = (
    ("pageerror: Cannot read properties of undefined (reading 'schema')", "/static/notebook/notebook_core."),
    ("pageerror: Command 'filebrowser:open-path' not registered.", "/static/notebook/notebook_core."),
    ("console.error: Failed to load resource: the server responded with a status of 403 (Forbidden)",
     ".woff2"),
)


def _is_notebook7_app_error(text: str) -> bool:
    return "/static/notebook/" in text and any(
        text.startswith(start) and where in text for start, where in NOTEBOOK7_APP_ERRORS)


@pytest.fixture(autouse=True)
def _no_console_errors(request, console_errors):
    """Every browser test fails on any JavaScript console error or uncaught page error."""
    yield
    if "page" in request.fixturenames:
        errors = [e for e in console_errors if not _is_notebook7_app_error(e)]
        assert not errors, ("JavaScript errors in the browser:\n  " + "\n  ".join(errors[:30]))
