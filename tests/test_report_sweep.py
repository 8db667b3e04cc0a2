"""`symopt sweep`: the grid, resuming a killed sweep, notes/summary/figures read back from
the runs' stores, and the discussion of identical settings."""

from __future__ import annotations

import csv
import json
import math
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest
from conftest import ROOT

from symopt.cli import main
from symopt.errors import UserError
from symopt.report.sweep import parse_vary, plan_sweep, run_sweep
from symopt.report.sweep_report import write_sweep_report
from symopt.search.evolution.loop import statement_count_fitness

BASE = {"search": {"population": 4, "tournament": 2, "budget": 6}, "cache": {"fingerprint": False}}


def store_rows(path, sql):
    db = sqlite3.connect(f"file:{path / 'run.sqlite'}?mode=ro", uri=True)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def identical(tmp_path_factory):
    """hall_of_fame does not change the search: two settings that are the same search."""
    out = tmp_path_factory.mktemp("sweep")
    plan = plan_sweep(BASE, ["search.hall_of_fame=20,5"], seeds=3,
                      programs=["adamw"])
    result = run_sweep(plan, out, progress="none", evaluate_fn=statement_count_fitness)
    return out, result


def test_identical_settings_are_not_significantly_different(identical):
    out, result = identical
    assert sorted(result.ran) == [(k, s) for k in (0, 1) for s in range(3)]
    text = (out / "notes.md").read_text()
    discussion = text.split("## Discussion", 1)[1]
    assert "within the seed-to-seed noise (not significant)" in discussion
    assert "p = 1;" in discussion
    assert "Nothing here is significant" in discussion


def test_notes_and_summary_are_the_stores(identical):
    out, _ = identical
    text = (out / "notes.md").read_text()
    summary = read_csv(out / "summary.csv")
    assert len(summary) == 6
    for row in summary:
        path = out / row["run_dir"]
        best = store_rows(path, "SELECT MIN(fitness) FROM candidates")[0][0]
        runs = store_rows(path, "SELECT COUNT(*) FROM candidates WHERE cache_hit=0")[0][0]
        assert float(row["best_fitness"]) == best and int(row["training_runs"]) == runs == 6
    sections = re.findall(r"^## Run (\d+): (.*)\n\nResults: (\{.*\})\n\nDescription: (.+)$",
                          text, re.M)
    assert [(k, what) for k, what, *_ in sections] == [("0", "baseline"),
                                                       ("1", "search.hall_of_fame=5")]
    for k, _, results, description in sections:
        res = json.loads(results)
        mine = [float(r["best_fitness"]) for r in summary if r["run"] == k]
        assert res["best_fitness"] == pytest.approx(mine)
        assert res["mean_best_fitness"] == pytest.approx(sum(mine) / 3, rel=1e-5)
        assert description.endswith(".") and description.count(". ") == 0
    drawn = read_csv(out / "sweep_best.csv")
    assert [float(r["best_fitness"]) for r in drawn] == [float(r["best_fitness"])
                                                         for r in summary]
    curves = read_csv(out / "sweep_curves.csv")
    last = [float(r["best"]) for r in curves if r["training_runs"] == "6"]
    assert last == [float(r["best_fitness"]) for r in summary]


def test_curves_are_the_best_so_far_of_the_stores(identical):
    """Each curve point is the best fitness among the candidates stored before the
    (t+1)-th training run, asked of the run's store."""
    out, _ = identical
    curves = read_csv(out / "sweep_curves.csv")
    summary = read_csv(out / "summary.csv")
    assert len(curves) == 6 * len(summary)
    for row in summary:
        mine = [r for r in curves if (r["run"], r["seed"]) == (row["run"], row["seed"])]
        assert [int(r["training_runs"]) for r in mine] == list(range(1, 7))
        for r in mine:
            best = store_rows(out / row["run_dir"], f"""
                SELECT MIN(COALESCE(c.fitness, 1e999)) FROM candidates c
                WHERE (SELECT COUNT(*) FROM candidates d
                       WHERE d.id <= c.id AND d.cache_hit = 0) <= {r['training_runs']}""")[0][0]
            assert float(r["best"]) == (math.inf if best is None else best)


def test_regenerating_keeps_notes(identical):
    out, _ = identical
    path = out / "notes.md"
    path.write_text(path.read_text().replace("<!-- notes -->\n",
                                             "<!-- notes -->\nsame search twice\n"))
    assert main(["report", str(out)]) == 0
    assert "<!-- notes -->\nsame search twice\n<!-- /notes -->" in path.read_text()


_SLOW_SWEEP = textwrap.dedent("""
    import sys, time
    from symopt.report.sweep import plan_sweep, run_sweep
    from symopt.search.evolution.loop import statement_count_fitness

    def slow(text, spec):
        time.sleep(0.15)
        return statement_count_fitness(text, spec)

    plan = plan_sweep({"search": {"population": 4, "budget": 6}}, ["search.population=2"],
                      seeds=1, programs=["sgd"])
    run_sweep(plan, sys.argv[1], progress="plain", evaluate_fn=slow)
""")


@pytest.mark.slow
def test_a_killed_sweep_resumes_without_rerunning_finished_runs(tmp_path):
    out = tmp_path / "sweep"
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_SWEEP, str(out)],
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first, second = out / "run-0" / "seed-0", out / "run-1" / "seed-0"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:  # kill once run 1 has stored a few candidates
            try:
                if store_rows(second, "SELECT COUNT(*) FROM candidates "
                                      "WHERE cache_hit=0")[0][0] >= 2:
                    break
            except sqlite3.OperationalError:  # not created yet
                pass
            time.sleep(0.05)
        else:
            pytest.fail("the sweep did not reach its second run")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    done_before = store_rows(first, "SELECT id, created FROM candidates ORDER BY id")
    partial = store_rows(second, "SELECT id, created FROM candidates ORDER BY id")
    assert 2 <= len([r for r in partial]) and store_rows(
        second, "SELECT COUNT(*) FROM candidates WHERE cache_hit=0")[0][0] < 6

    plan = plan_sweep({"search": {"population": 4, "budget": 6}}, ["search.population=2"],
                      seeds=1, programs=["sgd"])
    result = run_sweep(plan, out, progress="none", evaluate_fn=statement_count_fitness)
    assert result.skipped == [(0, 0)] and result.ran == [(1, 0)]
    assert store_rows(first, "SELECT id, created FROM candidates ORDER BY id") == done_before
    after = store_rows(second, "SELECT id, created FROM candidates ORDER BY id")
    assert after[:len(partial)] == partial
    assert store_rows(second, "SELECT COUNT(*) FROM candidates WHERE cache_hit=0")[0][0] == 6
    assert "2 of 2 runs finished" in (out / "notes.md").read_text()

    again = run_sweep(plan, out, progress="none", evaluate_fn=statement_count_fitness)
    assert again.ran == [] and sorted(again.skipped) == [(0, 0), (1, 0)]


def test_a_different_sweep_in_the_same_directory_is_refused(identical):
    out, _ = identical
    plan = plan_sweep(BASE, ["search.hall_of_fame=7"], seeds=3,
                      programs=["adamw"])
    with pytest.raises(UserError, match="holds a different sweep .*--vary"):
        run_sweep(plan, out, progress="none", evaluate_fn=statement_count_fitness)


def test_task_overrides_vary_and_bad_keys_are_named():
    plan = plan_sweep({"task": {"name": "quadratic"}}, ["task.overrides.steps=10,20"], seeds=1)
    assert [s.config["task"]["overrides"] for s in plan.settings()] == [{}, {"steps": 10},
                                                                         {"steps": 20}]
    assert plan.settings()[0].label == "baseline (task.overrides.steps=default)"
    with pytest.raises(UserError, match=r"^--vary search.populaton=8: search.populaton: "
                                        r"unknown key \(did you mean 'population'\?\)$"):
        plan_sweep({}, ["search.populaton=8"], seeds=1)
    with pytest.raises(UserError, match=r"^--vary task.overrides.steps=-3: task.overrides: bad "
                                        r"override for task 'quadratic': steps: must be at "
                                        r"least 1 \(got -3\)$"):
        plan_sweep({}, ["task.overrides.steps=-3"], seeds=1)
    with pytest.raises(UserError, match=r"^base.toml: task.name: unknown task 'nosuch'"):
        plan_sweep({"task": {"name": "nosuch"}}, ["search.population=8"], seeds=1,
                   source="base.toml")  # the config itself, not a --vary, is at fault
    with pytest.raises(UserError, match="KEY=V1,V2"):
        parse_vary("population")


def test_sweep_verb_errors_are_clean(tmp_path, capsys):
    assert main(["sweep", "--out", str(tmp_path / "s")]) == 2
    assert "at least one --vary" in capsys.readouterr().err
    assert main(["sweep", "--out", str(tmp_path / "s"), "--vary", "search.budget=0"]) == 2
    assert "budget" in capsys.readouterr().err


def test_write_sweep_report_on_a_sweep_not_started(tmp_path):
    plan = plan_sweep(BASE, ["search.population=2"], seeds=1, programs=["sgd"])
    from symopt.report.sweep import prepare_out

    prepare_out(plan, tmp_path)
    text = write_sweep_report(tmp_path).read_text()
    assert "0 of 2 runs finished" in text and "No run has finished yet" in text
