"""The notebooks run top to bottom (01 and 03 at a reduced size, 02 at its default size) and
are stored without outputs."""

from __future__ import annotations

import os
import re

import nbformat
import pytest
from conftest import ROOT
from nbclient import NotebookClient

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_three_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == ["01_quickstart.ipynb", "02_search_and_report.ipynb",
                                           "03_sweep.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


# Reading a file in Python's own ways (a method of a path, open, a loader of a library);
# symopt's reader is a plain call, `read_text(path)` / `read_bytes(path)` from symopt.files.
_OWN_READS = re.compile(r"\.read_(text|bytes)\(|\bopen\(|json\.loads?\(|tomllib|\bpd\.read_"
                        r"|\bnp\.load|pickle\.load|\.readlines?\(")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_reads_files_only_through_symopt(path):
    """Programs, configs and the outputs shown go through symopt's API and its one reader
    (`symopt.files`: bounded, UTF-8, errors name the file); IPython's `Image` shows figures."""
    nb = nbformat.read(path, as_version=4)
    own = [line.strip() for c in nb.cells if c.cell_type == "code"
           for line in c.source.splitlines() if _OWN_READS.search(line)]
    assert own == []
    assert _OWN_READS.search('text = (run_dir / "report.md").read_text()')  # it would see one


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, tmp_path, monkeypatch):
    # The kernel inherits this environment: small sizes, and this checkout's symopt.
    monkeypatch.setenv("SYMOPT_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    first = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert f"symopt from {ROOT}" in first
    assert (tmp_path / "notebook_output").is_dir()
