"""mypy over symopt/ at the level configured in pyproject.toml ([tool.mypy])."""

from pathlib import Path

import pytest
from mypy import api

ROOT = Path(__file__).resolve().parent.parent
CONFIG = str(ROOT / "pyproject.toml")


def _mypy(tmp_path, *targets):
    out, err, status = api.run(["--config-file", CONFIG, "--cache-dir", str(tmp_path / "cache"),
                                *targets])
    return status, out + err


@pytest.mark.slow
def test_the_configured_level_catches_errors(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from symopt.lang import Program\n\n"
                   "def f(p: Program) -> int:\n    return p.n_slots\n")
    status, out = _mypy(tmp_path, str(bad))
    assert status == 1 and '"Program" has no attribute "n_slots"' in out


@pytest.mark.slow
def test_symopt_type_checks(tmp_path):
    status, out = _mypy(tmp_path, str(ROOT / "symopt"))
    assert status == 0, out
