"""Every notebook in notebooks/ runs top to bottom without an error (nbclient), and the
tutorials that train state the validation accuracy they reached, which must show real learning.

The notebooks run with ``NBVIZ_FAST=1``: each reads it in its first code cell and trains a
shorter schedule (said in the notebook's text). The thresholds are far above chance (10% for
the ten digit and shape classes), so a run that does not learn fails.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))

# notebook -> {what was trained: lowest validation accuracy in percent that counts as learned}
MIN_ACCURACY: dict[str, dict[str, float]] = {
    "01_quickstart.ipynb": {"digits": 80.0},
    "02_inside_the_model.ipynb": {"digits": 85.0},
    "03_augmentation.ipynb": {"shapes": 50.0},
    "04_embeddings.ipynb": {"digits": 85.0, "shapes": 50.0},
    "09_sweeps.ipynb": {"digits": 50.0},
}
# The line each of them prints, e.g. "digits: validation accuracy 97.2% after 3 epochs".
ACCURACY_LINE = re.compile(r"^(\w+): validation accuracy (\d+(?:\.\d+)?)%", re.MULTILINE)
# notebook -> {plot: lowest share of points (percent) whose nearest neighbour in the 2-D plot
# has the same class}: 10% for a random cloud of ten classes.
MIN_CLUSTERING: dict[str, dict[str, float]] = {
    "04_embeddings.ipynb": {"shapes PCA, trained": 50.0, "shapes t-SNE, trained": 60.0},
}
CLUSTERING_LINE = re.compile(r"^(.+?): same-label nearest neighbour for (\d+)% of points", re.MULTILINE)

pytestmark = pytest.mark.notebook


def test_there_are_notebooks():
    assert any(p.name == "01_quickstart.ipynb" for p in NOTEBOOKS)
    assert set(MIN_ACCURACY) | set(MIN_CLUSTERING) <= {p.name for p in NOTEBOOKS}


def printed(notebook: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def stated_accuracies(notebook: nbformat.NotebookNode) -> dict[str, float]:
    """{label: percent} from the 'LABEL: validation accuracy P%' lines the cells printed."""
    return {label: float(value) for label, value in ACCURACY_LINE.findall(printed(notebook))}


def stated_clustering(notebook: nbformat.NotebookNode) -> dict[str, float]:
    """{plot: percent} from the 'PLOT: same-label nearest neighbour for P% of points' lines."""
    return {label: float(value) for label, value in CLUSTERING_LINE.findall(printed(notebook))}


def test_stated_accuracy_is_parsed():
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=(
        "paused at step 5\ndigits: validation accuracy 97.2% after 3 epochs (135 steps, 31 s)\n"
        "shapes: validation accuracy 8.5% after 1 epochs\n"
        "shapes PCA, trained: same-label nearest neighbour for 79% of points\n"))]
    notebook = nbformat.v4.new_notebook(cells=[cell])
    assert stated_accuracies(notebook) == {"digits": 97.2, "shapes": 8.5}
    assert stated_clustering(notebook) == {"shapes PCA, trained": 79.0}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path, monkeypatch):
    notebook = nbformat.read(path, as_version=4)
    assert notebook.metadata.get("kernelspec", {}).get("name") == "python3", \
        "without kernelspec metadata JupyterLab opens a 'Select Kernel' dialog"
    monkeypatch.setenv("NBVIZ_FAST", "1")  # the kernel inherits it
    assert os.environ["NBVIZ_FAST"] == "1"
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for cell in notebook.cells if cell.cell_type == "code"
              for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    expected = MIN_ACCURACY.get(path.name, {})
    stated = stated_accuracies(notebook)
    for label, minimum in expected.items():
        assert label in stated, f"{path.name} printed no '{label}: validation accuracy ...%' line"
        assert stated[label] >= minimum, \
            f"{path.name}: {label} reached only {stated[label]}% (a model that learned gets >= {minimum}%)"
    clustering = stated_clustering(notebook)
    for plot, minimum in MIN_CLUSTERING.get(path.name, {}).items():
        assert plot in clustering, f"{path.name} printed no '{plot}: same-label nearest neighbour ...' line"
        assert clustering[plot] >= minimum, \
            f"{path.name}: in the {plot} plot only {clustering[plot]}% of points sit next to their class"
