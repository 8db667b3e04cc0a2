"""The report's compute and operator sections, read back from a stored search."""

from __future__ import annotations

import math

import pandas as pd
from paths import builtin_file

from symopt.report.operators import compute_shares, compute_steps
from symopt.report.run_report import write_run_report
from symopt.search.config.loading import SearchConfig
from symopt.search.evolution.loop import run_search, statement_count_fitness
from symopt.search.execution.executor import EvalOutcome
from symopt.search.storage.schema import CandidateRecord
from symopt.search.storage.store import RunStore


def fitness(text: str, spec: dict) -> EvalOutcome:
    """Live statements; programs of 5 or more stop 'diverged' after 3 steps, others train 10."""
    n = statement_count_fitness(text, spec).fitness
    if n >= 5:
        return EvalOutcome(math.inf, "diverged", steps=3)
    return EvalOutcome(n, "ok", steps=10)


def test_report_shows_where_the_steps_went_and_the_operator_weights(tmp_path):
    cfg = SearchConfig.from_dict({"search": {"population": 4, "budget": 120,
                                             "budget_unit": "steps", "random_seed": 1}})
    res = run_search(cfg, tmp_path, seeds=[builtin_file("momentum")], evaluate_fn=fitness)
    store = RunStore.open(tmp_path)
    rows, ops = store.candidates(), store.operator_stats()
    store.close()
    steps = compute_steps(rows)
    assert steps["diverged"] == 3 * sum(r.status == "diverged" and not r.cache_hit for r in rows)
    assert steps["finished"] == 10 * sum(r.status == "ok" and not r.cache_hit for r in rows)
    assert sum(steps.values()) == res.stats.spent_steps >= 120
    text = (tmp_path / write_run_report(tmp_path, curves=False).name).read_text()
    shares = compute_shares(rows)
    assert f"| diverged | {steps['diverged']} | {100 * shares['diverged']:.1f}% |" in text
    last = max(r[0] for r in ops)
    for _, op, children, wins, weight in (r for r in ops if r[0] == last):
        assert f"| {op} | {children} | {wins} |" in text and f"{weight:.3f} |" in text
    cols = pd.read_csv(tmp_path / "report_operator_weights.csv")
    assert float(cols["delete"].iloc[-1]) == next(r[4] for r in ops if r[0] == last
                                             and r[1] == "delete")


def test_compute_shares_of_nothing_trained():
    assert set(compute_shares([CandidateRecord("p", cache_hit=True)]).values()) == {0.0}
