"""One owner per run directory: real processes, real flock (symopt.search.storage.runlock)."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from symopt.errors import UserError
from symopt.search.storage.runlock import LOCK_NAME, RunLockedError, holder, run_lock

SEARCH_CMD = [sys.executable, "-m", "symopt", "search", "--progress", "none"]
HOLD = ("import sys, time; from symopt.search.storage.runlock import run_lock\n"
        "with run_lock(sys.argv[1], command='holder-for-test'):\n"
        "    print('held', flush=True); time.sleep(60)\n")


def _holding_process(run):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


@pytest.mark.slow
def test_a_second_process_is_refused_with_the_holders_pid_and_command(tmp_path):
    proc = _holding_process(tmp_path / "run")
    try:
        with pytest.raises(RunLockedError, match=f"PID {proc.pid} \\(holder-for-test"):
            with run_lock(tmp_path / "run"):
                pass
        assert holder(tmp_path / "run")["pid"] == str(proc.pid)
    finally:
        proc.kill()
        proc.wait()
    # the kernel released it with the process: no stale lock, the file is still there
    assert (tmp_path / "run" / LOCK_NAME).exists() and holder(tmp_path / "run") is None
    with run_lock(tmp_path / "run"):
        assert holder(tmp_path / "run")["pid"] == str(os.getpid())


def test_lock_is_reentrant_in_one_process_and_released_at_the_end(tmp_path):
    with run_lock(tmp_path):
        with run_lock(tmp_path):  # e.g. a search that writes a report
            pass
        assert holder(tmp_path) is not None
    assert holder(tmp_path) is None


def test_lock_refuses_a_run_dir_it_cannot_create(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="cannot create the run directory"):
        with run_lock(tmp_path / "file" / "run"):
            pass


def _trained(run) -> tuple[int, int, int]:
    con = sqlite3.connect(run / "run.sqlite")
    trained = con.execute("SELECT COUNT(*) FROM candidates WHERE cache_hit = 0").fetchone()[0]
    gens = con.execute("SELECT COUNT(gen_index), COUNT(DISTINCT gen_index) "
                       "FROM candidates").fetchone()
    con.close()
    return trained, *gens


def _wait_until(cond, proc, seconds=60.0):
    deadline = time.monotonic() + seconds
    while not cond() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert cond(), "the search did not get there in time"


@pytest.mark.slow
def test_two_searches_on_one_run_and_a_resume_after_sigkill(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[search]\npopulation = 6\nbudget = 10\nrandom_seed = 5\n'
                   '[task]\nname = "quadratic"\noverrides = { steps = 20 }\n')
    run = tmp_path / "run"
    first = subprocess.Popen(SEARCH_CMD + ["--seed", "sgd", "--config", str(cfg),
                                           "--out", str(run)], stderr=subprocess.PIPE, text=True)
    try:
        _wait_until(lambda: (holder(run) or {}).get("pid") == str(first.pid)
                    and (run / "run.sqlite").exists(), first)
        second = subprocess.run(SEARCH_CMD + ["--resume", str(run), "--budget", "40"],
                                capture_output=True, text=True, timeout=120)
        assert first.poll() is None, "the first search ended before the second tried"
        assert second.returncode == 2
        assert f"PID {first.pid}" in second.stderr and "symopt search" in second.stderr
        assert "Traceback" not in second.stderr
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        first.kill()
        first.wait()
    t0 = time.monotonic()
    assert holder(run) is None  # the kernel dropped the lock with its owner
    third = subprocess.run(SEARCH_CMD + ["--resume", str(run)], capture_output=True, text=True,
                           timeout=300)
    assert third.returncode == 0, third.stderr
    assert time.monotonic() - t0 < 300
    trained, n_gen, distinct_gen = _trained(run)
    # exactly the first's budget (the refused --budget 40 never reached the store),
    # and no candidate stored twice
    assert trained == 10
    assert n_gen == distinct_gen
    con = sqlite3.connect(run / "run.sqlite")
    assert '"budget": 10' in con.execute("SELECT value FROM meta WHERE key='config'").fetchone()[0]
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()


@pytest.mark.slow
def test_tune_is_refused_on_a_directory_another_process_owns(tmp_path, capsys):
    from symopt.cli import main
    from symopt.tune import TuneConfig, run_tune
    from symopt.tune.store import FILE

    run = tmp_path / "t"
    program = "def train(w, g, lr):\n    update = g * (lr * 0.5)\n    return update\n"
    from symopt.lang import parse

    proc = _holding_process(run)
    try:
        with pytest.raises(RunLockedError, match=f"PID {proc.pid}"):
            run_tune(parse(program), TuneConfig(task="quadratic", budget=2), run)
        assert not (run / FILE).exists()  # refused before the store is written (issue 25)
        assert main(["tune", "sgd", "--task", "quadratic", "--budget", "2", "--out",
                     str(run)]) == 2
        err = capsys.readouterr().err
        assert f"PID {proc.pid} (holder-for-test" in err and "Traceback" not in err
        assert not (run / FILE).exists()
        assert main(["tune", "--resume", str(run)]) == 2  # so there is nothing to resume
        assert "holds no tuning run" in capsys.readouterr().err
    finally:
        proc.kill()
        proc.wait()
    assert main(["tune", "--resume", str(tmp_path / "nothing")]) == 2
    assert not (tmp_path / "nothing").exists()  # a typo creates no directory


@pytest.mark.slow
def test_funnel_is_refused_on_a_run_another_process_owns(tmp_path, capsys):
    from symopt.cli import main
    from symopt.search.config.loading import SearchConfig
    from symopt.search.evolution.loop import run_search, statement_count_fitness

    run = tmp_path / "run"
    cfg = SearchConfig.from_dict({"search": {"population": 2, "budget": 2},
                                  "funnel": [{"task": "quadratic"}]})
    run_search(cfg, run, seeds=["sgd"], evaluate_fn=statement_count_fitness,
               run_funnel_after=False)
    proc = _holding_process(run)
    try:
        assert main(["funnel", str(run)]) == 2
        err = capsys.readouterr().err
        assert f"PID {proc.pid} (holder-for-test" in err and "Traceback" not in err
    finally:
        proc.kill()
        proc.wait()
    assert not (run / "funnel.csv").exists()


@pytest.mark.slow
def test_report_that_trains_curves_is_refused_on_a_run_another_process_owns(tmp_path, capsys):
    from symopt.cli import main
    from symopt.search.config.loading import SearchConfig
    from symopt.search.evolution.loop import run_search, statement_count_fitness

    run = tmp_path / "run"
    cfg = SearchConfig.from_dict({"search": {"population": 2, "budget": 3},
                                  "task": {"name": "quadratic", "overrides": {"steps": 10}}})
    run_search(cfg, run, seeds=["sgd"], evaluate_fn=statement_count_fitness)
    proc = _holding_process(run)
    try:
        assert main(["report", str(run)]) == 2  # it would write curves into run.sqlite
        err = capsys.readouterr().err
        assert f"PID {proc.pid} (holder-for-test" in err and "Traceback" not in err
        assert main(["report", str(run), "--no-curves"]) == 2  # it writes report.md there
        assert f"PID {proc.pid}" in capsys.readouterr().err
        assert not (run / "report.md").exists() and not list(run.glob("report_*"))
    finally:
        proc.kill()
        proc.wait()
