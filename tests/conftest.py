from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = sorted((ROOT / "programs").glob("*.prog"))


@pytest.fixture
def root() -> Path:
    return ROOT
