"""Packaging promises: a light import, the dependency spec, committed front-end bundles."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("bqplot", "matplotlib", "ipympl", "openTSNE", "umap", "sklearn", "ipywidgets", "anywidget",
         "lightning", "transformers", "nbviz.integrations")


def test_import_nbviz_does_not_import_heavy_optional_packages():
    code = ("import sys, nbviz; "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_names_resolve_lazily():
    code = ("import nbviz; names = [n for n in nbviz.__all__ if getattr(nbviz, n) is None]; "
            "print(names)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_ipykernel_versions_that_break_thread_sends_are_excluded():
    spec = next(line for line in (ROOT / "pyproject.toml").read_text().splitlines()
                if line.strip().startswith('"ipykernel'))
    assert "!=7.0.0" in spec and "!=7.0.1" in spec


def test_every_front_end_entry_has_a_committed_bundle():
    entries = {p.stem for p in (ROOT / "js" / "src").glob("*.js")}
    bundles = {p.stem for p in (ROOT / "nbviz" / "static").glob("*.js")}
    assert entries and entries <= bundles
