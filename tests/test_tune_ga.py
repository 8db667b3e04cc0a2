"""GA and random search (symopt.tune.ga, symopt.tune.api) and the `symopt tune` command."""

import csv
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time

import jax.numpy as jnp
import optax
import pytest
from helpers import load_module

from symopt.cli import main
from symopt.compile import to_optax
from symopt.errors import UserError
from symopt.lang import parse, parse_file
from symopt.tasks import evaluate, get_task
from symopt.tune import TuneConfig, run_tune
from symopt.tune.store import TuneStore

# sgd.prog with a learning-rate constant 100x too small; the default space reaches it
SLOW_SGD = "def train(w, g, lr):\n    update = g * (lr * 0.01)\n    return update\n"
# momentum.prog with its step's constant 100x too small
SLOW_MOMENTUM = ("def train(w, g, m, lr):\n    m = m * 0.9 + g\n    update = m * (lr * 0.01)\n"
                 "    return update, m\n")


@pytest.fixture(scope="module")
def ga_run(tmp_path_factory):
    cfg = TuneConfig(task="quadratic", method="ga", budget=40)
    out = tmp_path_factory.mktemp("ga")
    return run_tune(parse(SLOW_SGD), cfg, out), out


@pytest.mark.slow
def test_ga_improves_a_far_too_small_learning_rate_at_least_2x(ga_run):
    result, out = ga_run
    untuned = evaluate(lambda lr: to_optax(parse(SLOW_SGD), lr), "quadratic",
                       lr_multipliers=[1.0]).fitness
    assert result.untuned == pytest.approx(untuned, rel=1e-4)  # the training loop agrees
    assert result.fitness * 2 <= untuned
    # tuned.prog holds the best constants and retrains (in the standard loop) to that fitness
    tuned = parse_file(out / "tuned.prog")
    assert tuned.constants() == [result.best["c0"]]
    again = evaluate(lambda lr: to_optax(tuned, lr),
                     get_task("quadratic", warmup_steps=result.best["warmup_steps"]),
                     lr_multipliers=[result.best["lr_multiplier"]])
    assert again.fitness == pytest.approx(result.fitness, rel=1e-3)
    assert f"lr_multiplier={result.best['lr_multiplier']:.6g}" in tuned.header


def test_cli_ga_default_space_fixes_a_momentum_constant_100x_too_small(tmp_path, capsys):
    prog = tmp_path / "slow_momentum.prog"
    prog.write_text(SLOW_MOMENTUM)
    assert main(["tune", str(prog), "--task", "quadratic", "--method", "ga", "--budget", "10",
                 "--out", str(tmp_path / "t"), "--quiet"]) == 0
    rows = list(csv.DictReader((tmp_path / "t" / "trials.csv").open()))
    untuned = evaluate(lambda lr: to_optax(parse(SLOW_MOMENTUM), lr), "quadratic",
                       lr_multipliers=[1.0]).fitness
    best = min(float(r["fitness"]) for r in rows)
    assert best <= 0.5 * untuned, (best, untuned)


def test_ga_stores_every_trial_with_generations_and_writes_outputs(ga_run):
    result, out = ga_run
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert len(rows) == 40 and {r["generation"] for r in rows} == {"0", "1", "2", "3"}
    assert set(rows[0]) >= {"method", "generation", "c0", "lr_multiplier", "warmup_steps",
                            "fitness", "status"}
    assert rows[0]["c0"] == "0.01" and rows[0]["lr_multiplier"] == "1"  # gen 0 starts untuned
    trials = TuneStore.open(out).trials()
    assert len(trials) == 40
    assert min(t.fitness for t in trials) == result.fitness
    # the GA selects: later generations are better on average than the random first one
    mean = lambda g: sum(t.fitness for t in trials if t.generation == g) / 10
    assert mean(3) < mean(0)
    assert (out / "fitness.png").stat().st_size > 1000


@pytest.mark.slow
def test_random_search_baseline_same_budget(tmp_path):
    cfg = TuneConfig(task="quadratic", method="random", budget=12,
                     task_overrides={"steps": 40})
    r = run_tune(parse(SLOW_SGD), cfg, tmp_path)
    trials = TuneStore.open(tmp_path).trials()
    assert len(trials) == 12 and trials[0].values["c0"] == 0.01 and r.n_trials == 12
    assert r.fitness == min(t.fitness for t in trials) and r.fitness <= r.untuned


def test_tuned_program_exports_to_optax(ga_run, tmp_path, capsys):
    _, out = ga_run
    assert main(["export", str(out / "tuned.prog"), "--to", "optax", "-o",
                 str(tmp_path / "tuned_opt.py")]) == 0
    mod = load_module((tmp_path / "tuned_opt.py").read_text(), tmp_path, "tuned_opt")
    tx = mod.tuned(0.1)
    p = jnp.ones(3)
    u, _ = tx.update(jnp.ones(3), tx.init(p), p)
    c0 = parse_file(out / "tuned.prog").constants()[0]
    assert float(optax.apply_updates(p, u)[0]) == pytest.approx(1 - 0.1 * c0, rel=1e-5)


def _stored(run_dir) -> list:
    try:
        con = sqlite3.connect(run_dir / "tune.sqlite")
        rows = con.execute("SELECT id, generation, idx, hyper, fitness, finished FROM trials "
                           "ORDER BY id").fetchall()
        con.close()
        return rows
    except sqlite3.Error:
        return []


@pytest.mark.slow
def test_killed_ga_resumes_without_rerunning_finished_trials(tmp_path):
    prog = tmp_path / "slow_sgd.prog"
    prog.write_text(SLOW_SGD)
    cfg = tmp_path / "t.toml"
    # 20,000 quadratic steps a trial: slow enough that the kill lands mid-run on an idle VM
    cfg.write_text('[tune]\ntask = "quadratic"\nmethod = "ga"\nbudget = 24\npopulation = 6\n'
                   '[tune.overrides]\nsteps = 20000\n[tune.space]\nc0 = [0.001, 1.0]\n')
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "symopt", "tune", str(prog), "--config",
                             str(cfg), "--out", str(run), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while len(_stored(run)) < 4 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _stored(run)
    assert 4 <= len(before) < 24, "the kill must land in the middle of the run"
    seen = []
    result = run_tune(None, None, run, resume=True, progress=seen.append)
    after = _stored(run)
    assert after[: len(before)] == before  # finished trials untouched
    assert len(after) == 24 and len({(g, i) for _, g, i, *_ in after}) == 24
    assert sum("(stored)" in s for s in seen) == len(before)
    assert sum("(stored)" not in s for s in seen) == 24 - len(before)
    assert result.n_trials == 24 and math.isfinite(result.fitness)


def test_cli_errors_name_the_key(tmp_path, capsys):
    prog = tmp_path / "p.prog"
    prog.write_text(SLOW_SGD)
    cfg = tmp_path / "t.toml"
    cfg.write_text('[tune]\ntask = "quadratic"\n[tune.space]\nbeta9 = [0.1, 0.2]\n')
    assert main(["tune", str(prog), "--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    assert "beta9" in capsys.readouterr().err
    cfg.write_text('[tune]\ntask = "quadratic"\n[tune.space]\nc0 = [0.5, 0.1]\n')
    assert main(["tune", str(prog), "--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    assert "c0" in capsys.readouterr().err
    assert main(["tune", str(prog), "--out", str(tmp_path / "o")]) == 2
    assert "needs a task" in capsys.readouterr().err
    assert main(["tune", "--resume", str(tmp_path / "nothing")]) == 2
    assert "holds no tuning run" in capsys.readouterr().err
    assert main(["tune", "lion", "--task", "nanogpt-tiny", "--show-space"]) == 0
    shown = capsys.readouterr().out
    assert "(c = interp(g, m, 0.9))" in shown and "heads" in shown and "dropout" in shown
    with pytest.raises(UserError, match="already holds"):
        run_tune(parse(SLOW_SGD), TuneConfig(task="quadratic", budget=2), tmp_path / "x")
        run_tune(parse(SLOW_SGD), TuneConfig(task="quadratic", budget=2), tmp_path / "x")
