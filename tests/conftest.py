import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = sorted((ROOT / "programs").glob("*.prog"))

# Doctests and tests use paths relative to the repository root.
os.chdir(ROOT)


@pytest.fixture
def root() -> Path:
    return ROOT
