import os
import shutil
import tempfile
from fnmatch import fnmatch
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = sorted((ROOT / "programs").glob("*.prog"))

#: Heavy checks that a decorator cannot mark: doctests, and some parameters of a test whose
#: other parameters stay in the fast tier (`pytest -m "not slow"`). Node ids relative to
#: the checkout, `fnmatch` patterns; the other heavy tests carry `@pytest.mark.slow`.
SLOW = (
    # parameters: the cheapest stay in the fast tier
    "tests/test_compile_contract.py::test_program_matches_optax[[]*-mlp[]]",
    "tests/test_compile_contract.py::test_program_matches_optax[[]ada*-nested[]]",
    "tests/test_export.py::test_exported_module_equals_compiler[[][!s]*[]]",  # sgd, signum stay
    "tests/test_export.py::test_global_functions_export_to_optax[[][!g]*[]]",  # global_last stays
    "tests/test_export_torch.py::test_torch_export_equals_the_jax_path[[]*/a*.prog[]]",
    "tests/test_train.py::test_adam_beats_doing_nothing[[]mlp[]]",
    "tests/test_train.py::test_adam_beats_doing_nothing[[]logreg[]]",
    # doctests that train or start processes
    "symopt/api.py::symopt.api",
    "symopt/compile/interpreter.py::symopt.compile.interpreter",
    "symopt/isolation.py::symopt.isolation",
    "symopt/report/eval_report.py::symopt.report.eval_report.comparison_table",
    "symopt/tasks/__init__.py::symopt.tasks",
    "symopt/tasks/batch.py::symopt.tasks.batch",
    "symopt/tasks/compare.py::symopt.tasks.compare.compare",
    "symopt/tasks/engine.py::symopt.tasks.engine",
    "symopt/tasks/seeds.py::symopt.tasks.seeds",
    "symopt/tasks/train.py::symopt.tasks.train.evaluate",
    "symopt/tune/api.py::symopt.tune.api",
    "symopt/tune/trainer.py::symopt.tune.trainer",
)


def pytest_configure(config):
    """One XLA compilation cache per test session, shared with the processes tests start.

    Many tests train the same small programs on the same tasks, in this process and in the
    worker and CLI processes they start; each would compile the same step again. The cache
    starts empty in a fresh temporary directory (nothing is carried between sessions).
    """
    import jax

    cache = tempfile.mkdtemp(prefix="symopt-test-xla-cache-")
    config.add_cleanup(lambda: shutil.rmtree(cache, ignore_errors=True))
    os.environ["JAX_COMPILATION_CACHE_DIR"] = cache
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0.1"
    jax.config.update("jax_compilation_cache_dir", cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if any(fnmatch(item.nodeid, pattern) for pattern in SLOW):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def root() -> Path:
    return ROOT


#: The small real search that the report and write-up tests share: AdamW on the quadratic
#: task, 4 training runs of 20 steps (search seed 3: its best beats the seed).
TINY_RUN = {"search": {"population": 3, "tournament": 2, "budget": 4, "random_seed": 3},
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
    shutil.copytree(run, to)
    return to
