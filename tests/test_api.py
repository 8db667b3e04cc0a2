"""The Python API: symopt.search / symopt.load_run, and Ctrl-C from Python."""

import math
import os
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
    run = symopt.search("sgd", task="rosenbrock", budget=2, config=QUICK,
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
