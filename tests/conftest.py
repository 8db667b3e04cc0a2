from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = sorted((ROOT / "programs").glob("*.prog"))


@pytest.fixture
def root() -> Path:
    return ROOT


#: The small real search that the report and write-up tests share: AdamW on the quadratic
#: task, 4 training runs of 20 steps (search seed 3: its best beats the seed).
TINY_RUN = {"search": {"population": 3, "tournament": 2, "budget": 4, "seed": 3},
            "task": {"name": "quadratic", "overrides": {"steps": 20}}}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """`TINY_RUN` searched once per test session; tests change a copy (`copy_run`)."""
    from symopt.search import SearchConfig, run_search

    d = tmp_path_factory.mktemp("tiny_run") / "run"
    run_search(SearchConfig.from_dict(TINY_RUN), d, seeds=["adamw"])
    return d


def copy_run(run: Path, to: Path) -> Path:
    """A copy of the run directory `run` at `to` (a new directory)."""
    import shutil

    shutil.copytree(run, to)
    return to
