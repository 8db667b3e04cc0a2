"""The Python API: symopt.search / symopt.load_run, and Ctrl-C from Python."""

import math
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import symopt
from symopt import programs
from symopt.api import Candidate
from symopt.errors import UserError
from symopt.search.execution.interrupt import stop_on_sigint
from symopt.search.storage.store import RunStore

ROOT = Path(__file__).resolve().parent.parent
QUICK = {"search": {"population": 4, "tournament": 2},
         "task": {"name": "quadratic", "overrides": {"steps": 10}}}


@pytest.mark.slow
def test_search_takes_programs_paths_and_names_and_returns_programs_with_fitness(tmp_path):
    sgd = programs.load("sgd")
    run = symopt.search([sgd, ROOT / "programs" / "momentum.prog", "signum"], budget=5,
                        config=QUICK, run_dir=tmp_path / "r")
    assert run.run_dir == tmp_path / "r" and not run.interrupted
    assert [r.description for r in run.candidates[:3]] == [
        "<train program>", str(ROOT / "programs" / "momentum.prog"), "signum"]
    hof = run.hall_of_fame
    assert all(isinstance(c, Candidate) and isinstance(c, symopt.Program) for c in hof)
    assert run.best is hof[0] and [c.fitness for c in hof] == sorted(c.fitness for c in hof)
    assert math.isfinite(run.best.fitness) and run.stats.evaluations == 5
    stored = {r.id: r for r in run.candidates}
    assert run.best.fitness == stored[run.best.id].fitness
    assert symopt.to_text(run.best, header=False) == stored[run.best.id].program_text
    symopt.to_optax(run.best, 0.1)  # a Candidate compiles like any Program


@pytest.mark.slow
def test_load_run_reopens_and_resume_continues(tmp_path):
    first = symopt.search("sgd", budget=3, config=QUICK, run_dir=tmp_path / "r")
    again = symopt.load_run(tmp_path / "r")
    assert again.best.fitness == first.best.fitness and again.stats is None
    assert again.config == first.config and len(again.candidates) == len(first.candidates)
    more = symopt.search(None, budget=6, run_dir=tmp_path / "r", resume=True)
    assert more.stats.evaluations == 6 and more.best.fitness <= first.best.fitness


@pytest.mark.slow
def test_task_budget_and_config_overrides_and_errors(tmp_path):
    run = symopt.search("adam", task="rosenbrock", budget=2, config=QUICK,
                        run_dir=tmp_path / "r")
    assert run.config.task.name == "rosenbrock" and run.config.search.budget == 2
    with pytest.raises(UserError, match="unknown task 'nope'"):
        symopt.search("sgd", task="nope", run_dir=tmp_path / "x")
    with pytest.raises(symopt.ProgramError, match="adamx:1:1: cannot read file"):
        symopt.search("adamx", budget=2, config=QUICK, run_dir=tmp_path / "y")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_symopt_search_is_the_callable_search_package():
    import symopt.search.evolution.loop as runner
    from symopt.search import run_search

    assert callable(symopt.search) and runner.run_search is run_search


@pytest.mark.slow
def test_importing_search_submodules_first_or_after_keeps_symopt_search_callable(tmp_path):
    # A fresh interpreter: submodules imported before `import symopt`, after it, and the
    # package reloaded; `symopt.search` stays the one package object and still runs a search.
    code = textwrap.dedent(f"""
        import importlib, sys
        import symopt.search.evolution.loop
        import symopt
        import symopt.search.storage.store, symopt.search.execution.dispatch
        from symopt.search.evolution import mutation
        importlib.reload(symopt.search)
        assert symopt.search is sys.modules["symopt.search"]
        assert symopt.search.evolution.loop.run_search is symopt.search.run_search
        run = symopt.search("sgd", budget=2, run_dir={str(tmp_path / "r")!r},
                            config={QUICK!r})
        print(type(symopt.search).__name__, run.stats.evaluations, run.best.fitness < 1e9)
    """)
    env = dict(os.environ, PYTHONPATH=str(Path(symopt.__file__).resolve().parent.parent),
               JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["_CallablePackage", "2", "True"]


def test_ctrl_c_asks_to_stop_then_a_second_one_interrupts():
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN in a background job, else default
    with stop_on_sigint() as stop_requested:
        assert not stop_requested()
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        assert stop_requested()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
    assert signal.getsignal(signal.SIGINT) is before  # restored


@pytest.mark.slow
def test_ctrl_c_stops_a_python_search_that_returns_its_result(tmp_path):
    code = textwrap.dedent(f"""
        import symopt
        run = symopt.search("adamw", budget=500, run_dir={str(tmp_path / 'r')!r},
                            config={{"search": {{"population": 8}},
                                     "task": {{"name": "quadratic",
                                              "overrides": {{"steps": 200}}}}}})
        print("interrupted", run.interrupted, len(run.candidates))
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while time.time() < deadline:
        if (tmp_path / "r" / "best.prog").exists():
            store = RunStore.open(tmp_path / "r")
            n = len(store.candidates())
            store.close()
            if n >= 3:
                break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    flag, stored = out.split()[1:]
    assert flag == "True" and 3 <= int(stored) < 500
    assert "stopping after the evaluations in flight" in err


def _readme_api_example(budgets=(2, 2)) -> str:
    """The README's `symopt.search` example (From Python), as a user pastes it, with a tiny
    budget: no `if __name__ == "__main__":` guard."""
    text = (ROOT / "README.md").read_text()
    start = text.index("### From Python")
    block = text[text.index("```python\n", start) + len("```python\n"):]
    block = block[:block.index("```")]
    assert "symopt.search(" in block and "__main__" not in block
    for b in budgets:
        block = re.sub(r"budget=\d{2,}", f"budget={b}", block, count=1)
    return block


@pytest.mark.parametrize("how", ["script", "stdin"])
def test_readme_api_example_runs_without_a_main_guard_from_a_script_and_from_stdin(
        how, tmp_path):
    code = _readme_api_example()
    (tmp_path / "example.py").write_text(code)
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    args = [sys.executable, "example.py"] if how == "script" else [sys.executable, "-"]
    out = subprocess.run(args, input=None if how == "script" else code, capture_output=True,
                         text=True, env=env, cwd=tmp_path, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "def train(" in out.stdout  # `print(run.best, ...)` printed the best program
    assert "Traceback" not in out.stderr  # no worker re-ran the script or died on <stdin>
    run = symopt.load_run(tmp_path / "runs" / "py")
    assert run.best is not None and math.isfinite(run.best.fitness)
    assert sum(not r.cache_hit for r in run.candidates) == 2


def test_main_guard_detection_parses_the_script(tmp_path):
    from symopt.isolation import _has_main_guard

    guarded, bare = tmp_path / "g.py", tmp_path / "b.py"
    guarded.write_text("import symopt\nif '__main__' == __name__:\n    symopt.search('sgd')\n")
    bare.write_text("import symopt\nsymopt.search('sgd')\nif __name__ == 'x':\n    pass\n")
    assert _has_main_guard(str(guarded), 0.0) and not _has_main_guard(str(bare), 0.0)


def test_a_search_whose_every_evaluation_fails_raises_naming_the_cause(tmp_path):
    # A task registered here is unknown to worker processes (pytest's main module does
    # not register it): every evaluation fails, and the error says why and what to do.
    from symopt.tasks import register_task
    from symopt.tasks.synthetic import Quadratic

    register_task("api-bowl", Quadratic(dim=3, name="api-bowl", steps=10), replace=True)
    config = {"search": {"population": 2, "tournament": 2}}
    with pytest.raises(symopt.SearchFailedError, match=r"unknown task 'api-bowl'.*inline"):
        symopt.search("sgd", task="api-bowl", budget=2, run_dir=tmp_path / "r", config=config)
    assert len(symopt.load_run(tmp_path / "r").candidates) == 1  # the seed's row is kept
    inline = symopt.search("sgd", task="api-bowl", budget=2, run_dir=tmp_path / "i",
                           config={**config, "executor": {"kind": "inline"}})
    assert inline.best is not None and math.isfinite(inline.best.fitness)


def test_symopt_tune_is_a_callable_package_beside_symopt_search(tmp_path):
    import symopt.tune.ga as ga

    assert callable(symopt.tune) and ga.run_ga is symopt.tune.ga.run_ga
    assert symopt.tune.TuneConfig is symopt.tune.config.TuneConfig
    with pytest.raises(ValueError, match="is neither a .prog file nor a built-in"):
        symopt.tune("no-such-program", task="quadratic", run_dir=tmp_path)
    with pytest.raises(UserError, match="needs the run_dir"):
        symopt.tune(resume=True)
