"""`symopt report` on a search run: every number and figure checked against run.sqlite
read with plain SQL, curves against a fresh training run, notes kept over a resume."""

from __future__ import annotations

import csv
import json
import math
import re
import sqlite3
import statistics

import pytest

from symopt.cli import main
from symopt.errors import UserError
from symopt.report.history import RunHistory
from symopt.report.report import write_report
from symopt.search import SearchConfig, run_search
from symopt.search.evolution.loop import statement_count_fitness
from symopt.search.storage.store import FunnelRecord, RunStore

CONFIG = {"search": {"population": 3, "tournament": 2, "budget": 4, "random_seed": 3},
          "task": {"name": "quadratic", "overrides": {"steps": 20}}}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("run")
    run_search(SearchConfig.from_dict(CONFIG), d, seeds=["adamw"])
    write_report(d)
    return d


def rows(run_dir, sql):
    db = sqlite3.connect(run_dir / "run.sqlite")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def summary_value(run_dir, name: str) -> str:
    text = (run_dir / "report.md").read_text()
    return re.search(rf"^\| {re.escape(name)} \| (.*) \|$", text, re.M).group(1)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_summary_numbers_are_the_stores(run_dir):
    fits = [f for (f,) in rows(run_dir, "SELECT fitness FROM candidates") if f is not None]
    seed = rows(run_dir, "SELECT fitness FROM candidates WHERE operator='seed'")[0][0]
    n, hits, red = rows(run_dir, "SELECT COUNT(*), SUM(cache_hit), AVG(redundant_fraction) "
                                 "FROM candidates")[0]
    assert float(summary_value(run_dir, "best fitness")) == pytest.approx(min(fits), rel=1e-5)
    assert float(summary_value(run_dir, "seed fitness")) == pytest.approx(seed, rel=1e-5)
    assert int(summary_value(run_dir, "training runs done")) == n - hits == 4
    assert summary_value(run_dir, "cache-hit rate") == f"{100 * hits / n:.1f}%"
    assert summary_value(run_dir, "redundant-statement fraction") == f"{100 * red:.1f}%"
    assert summary_value(run_dir, "how the run ended") == "budget reached"
    text = (run_dir / "report.md").read_text()
    assert "## Run 0: baseline" in text and "Seed program `adamw`" in text


def test_fitness_figure_is_drawn_from_the_store(run_dir):
    data = read_csv(run_dir / "report_fitness.csv")
    assert (run_dir / "report_fitness.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    stored = rows(run_dir, "SELECT id, fitness, cache_hit, operator FROM candidates ORDER BY id")
    assert [int(r["candidate"]) for r in data] == [i for i, *_ in stored]
    best, runs = math.inf, 0
    snaps = rows(run_dir, "SELECT after_id, members FROM snapshots ORDER BY id")
    fitness = {i: (math.inf if f is None else f) for i, f, *_ in stored}
    population: list[int] = []
    for row, (i, _, hit, op) in zip(data, stored):
        runs += not hit
        best = min(best, fitness[i])
        if op != "seed":
            population = (population + [i])[-CONFIG["search"]["population"]:]
        for after, members in snaps:
            if after == i:
                population = json.loads(members)
        assert int(row["training_runs"]) == runs
        assert float(row["best"]) == pytest.approx(best)
        assert float(row["median"]) == pytest.approx(statistics.median(
            fitness[m] for m in population))
        assert float(row["seed"]) == pytest.approx(fitness[stored[0][0]])


def test_cache_figure_is_drawn_from_the_store(run_dir):
    data = read_csv(run_dir / "report_cache.csv")
    stored = rows(run_dir, "SELECT cache_hit, redundant_fraction FROM candidates ORDER BY id")
    for k, row in enumerate(data, 1):
        hits = sum(h for h, _ in stored[:k])
        assert float(row["cache_hit_pct"]) == pytest.approx(100 * hits / k)
        assert float(row["redundant_pct"]) == pytest.approx(
            100 * sum(r for _, r in stored[:k]) / k)


def test_operator_figure_is_drawn_from_the_store(run_dir):
    data = {r["operator"]: r for r in read_csv(run_dir / "report_operators.csv")}
    got = rows(run_dir, """
        SELECT c.operator, COUNT(*),
               SUM(COALESCE(c.fitness, 1e308) < COALESCE(p.fitness, 1e308))
        FROM candidates c LEFT JOIN candidates p ON p.id = c.parent_id
        WHERE c.operator != 'seed' GROUP BY c.operator""")
    assert {op: (int(r["children"]), int(r["better_than_parent"])) for op, r in data.items()} \
        == {op: (n, better) for op, n, better in got}


def test_validation_curves_are_stored_and_end_at_the_fitness(run_dir):
    stored = rows(run_dir, "SELECT candidate_id, val_loss FROM curves")
    fitness = dict(rows(run_dir, "SELECT id, fitness FROM candidates"))
    best_id = rows(run_dir, "SELECT id FROM candidates WHERE fitness IS NOT NULL "
                            "ORDER BY fitness, id LIMIT 1")[0][0]
    # the search stores every trained candidate's curve; the report reads the seed's and
    # the best's from there (or trains them, for stores written before curves were kept)
    assert best_id != 1 and {1, best_id} <= {c for c, _ in stored}
    for cand, vals in stored:
        if fitness[cand] is not None:  # a finished run's curve ends at its fitness
            assert json.loads(vals)[-1] == pytest.approx(fitness[cand], rel=1e-4)
    drawn = read_csv(run_dir / "report_curves.csv")
    assert [float(r["val_loss"]) for r in drawn if int(r["candidate"]) == best_id] == \
        pytest.approx(json.loads(dict(stored)[best_id]))


def test_regenerated_report_reads_stored_curves_not_a_new_training(run_dir, tmp_path):
    db = sqlite3.connect(run_dir / "run.sqlite")
    with db:
        db.execute("UPDATE curves SET val_loss='[9.0, 8.0]', steps='[0, 20]' "
                   "WHERE candidate_id=1")
    db.close()
    write_report(run_dir)
    drawn = [r for r in read_csv(run_dir / "report_curves.csv") if r["candidate"] == "1"]
    assert [float(r["val_loss"]) for r in drawn] == [9.0, 8.0]


def test_notes_survive_a_resume_and_a_regeneration(tmp_path):
    d = tmp_path / "r"
    cfg = SearchConfig.from_dict({**CONFIG, "search": {**CONFIG["search"], "budget": 2}})
    run_search(cfg, d, seeds=["sgd"], evaluate_fn=statement_count_fitness)
    path = write_report(d, curves=False)
    text = path.read_text().replace("<!-- notes -->\n", "<!-- notes -->\nlr too high?\n")
    path.write_text(text)
    run_search(cfg.with_search(budget=3), d, resume=True, evaluate_fn=statement_count_fitness)
    text = write_report(d, curves=False).read_text()
    assert "<!-- notes -->\nlr too high?\n<!-- /notes -->" in text
    assert summary_value(d, "training runs done") == "3"
    assert summary_value(d, "how the run ended") == "budget reached"
    assert re.search(r"in 2 session\(s\)", summary_value(d, "wall time"))


def test_funnel_and_trials_are_reported_when_present(run_dir):
    store = RunStore.open(run_dir)
    store.add_funnel(FunnelRecord(1, "rosenbrock", "{}", "h0", None, True, fitness=2.0,
                                  seed_fitness=2.0))
    store.add_funnel(FunnelRecord(1, "rosenbrock", "{}", "h3", 3, False, fitness=1.625,
                                  seed_fitness=2.0, passed=True))
    store.close()
    (run_dir / "trials.csv").write_text("trial,fitness\n0,0.75\n1,0.5\n2,0.625\n")
    text = write_report(run_dir, curves=False).read_text()
    assert "## Funnel" in text
    assert "| 1 | rosenbrock | 3 | 0 | 1.625 | 2 | 1 | ok | 0.8125 |" in text
    assert "3 trials in `trials.csv`; the best (lowest `fitness`) is trial 1: 0.5." in text
    best_so_far = [float(r["best_so_far"]) for r in read_csv(run_dir / "report_trials.csv")]
    assert best_so_far == [0.75, 0.5, 0.5]


def test_an_old_store_without_the_new_tables_opens(tmp_path):
    d = tmp_path / "old"
    cfg = SearchConfig.from_dict({"search": {"population": 2, "budget": 3}})
    run_search(cfg, d, seeds=["sgd"], evaluate_fn=statement_count_fitness)
    db = sqlite3.connect(d / "run.sqlite")
    with db:
        db.execute("DROP TABLE sessions")
        db.execute("DROP TABLE curves")
    db.close()
    h = RunHistory.load(d)
    assert h.sessions == [] and h.ended == "budget reached" and h.training_runs == 3
    assert "from the stored timestamps" in write_report(d, curves=False).read_text()


def test_report_of_a_missing_directory_is_a_clean_error(tmp_path, capsys):
    with pytest.raises(UserError, match="no such run directory"):
        write_report(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    assert "nothing to report" in capsys.readouterr().err


def test_report_verb_prints_the_path(run_dir, capsys):
    assert main(["report", str(run_dir), "--no-curves"]) == 0
    assert capsys.readouterr().out.strip() == str(run_dir / "report.md")
