"""Adaptive operator weights in a search: an operator whose children never help ends with
a lower weight than one whose children do; with `adapt = false` the weights never move."""

from __future__ import annotations

import math

import pytest
from paths import builtin_file

from symopt.search.config.loading import SearchConfig
from symopt.search.config.sections import MutationConfig
from symopt.search.evolution.loop import run_search, statement_count_fitness
from symopt.search.evolution.operators import OperatorCredit
from symopt.search.execution.executor import EvalOutcome
from symopt.search.storage.store import RunStore

# Fitness = live statements, inf with an `exp10`: a deletion that keeps the program valid
# is better than its parent; an insertion (of `exp10`, the only function it may use) never
# is: it fails, or it is dead code that changes nothing.
MUTATION = {"insert": 1.0, "delete": 1.0, "modify_arg": 0.0, "perturb_constant": 0.0,
            "replace_function": 0.0, "max_statements": 30, "functions": ["exp10"]}


def fitness(text: str, spec: dict):
    out = statement_count_fitness(text, spec)
    return EvalOutcome(math.inf, "diverged") if "exp10" in text else out


def _search(tmp_path, adapt: bool):
    cfg = SearchConfig.from_dict({"search": {"population": 8, "budget": 40, "random_seed": 2,
                                             "max_candidates": 150},
                                  "mutation": {**MUTATION, "adapt": adapt}})
    res = run_search(cfg, tmp_path, seeds=[builtin_file("adamw")],
                     evaluate_fn=fitness)
    store = RunStore.open(tmp_path)
    try:
        return res, store.operator_stats(), store.candidates()
    finally:
        store.close()


def test_adaptive_weights_favour_the_operator_that_helps(tmp_path):
    res, rows, cands = _search(tmp_path, adapt=True)
    final = {op: (c, k, w) for _, op, c, k, w in rows if _ == max(r[0] for r in rows)}
    assert final["insert"][1] == 0 and final["delete"][1] > 0  # successes, from the rows
    assert sum(1 for r in cands if r.operator == "insert") == final["insert"][0]
    assert final["delete"][2] > final["insert"][2] >= 0.05  # the floor keeps insert alive
    assert final["modify_arg"][2] == 0.0  # configured off stays off
    assert res.stats.operators["delete"] == final["delete"]  # the summary shows the same
    assert "beat their parent" in res.stats.summary()


def test_without_adapt_the_weights_never_move(tmp_path):
    _, rows, _ = _search(tmp_path, adapt=False)
    assert len({r[0] for r in rows}) > 2  # several snapshots over the run
    assert {(op, w) for _, op, _, _, w in rows} == {
        ("insert", 0.5), ("delete", 0.5), ("modify_arg", 0.0), ("perturb_constant", 0.0),
        ("replace_function", 0.0)}


@pytest.mark.slow
def test_resumed_search_replays_the_credit(tmp_path):
    cfg = SearchConfig.from_dict({"search": {"population": 8, "budget": 15, "random_seed": 2,
                                             "max_candidates": 100},
                                  "mutation": MUTATION})
    whole = run_search(cfg.with_search(budget=30), tmp_path / "a",
                       seeds=[builtin_file("adamw")], evaluate_fn=fitness)
    run_search(cfg, tmp_path / "b", seeds=[builtin_file("adamw")],
               evaluate_fn=fitness)
    resumed = run_search(cfg.with_search(budget=30), tmp_path / "b", resume=True,
                         evaluate_fn=fitness)
    assert resumed.stats.operators == pytest.approx(whole.stats.operators)


def test_floor_and_configured_zero():
    ops = OperatorCredit(MutationConfig(adapt_floor=0.1, replace_function=0.0))
    for _ in range(200):
        ops.credit("perturb_constant", beat_parent=True, beat_best=True)
        for op in ("insert", "delete", "modify_arg"):
            ops.credit(op, beat_parent=False, beat_best=False)
    w = ops.weights()
    assert min(w[op] for op in ("insert", "delete", "modify_arg")) == pytest.approx(0.1)
    assert w["replace_function"] == 0.0 and sum(w.values()) == pytest.approx(1.0)
