"""Population-parallel training in a search (symopt/search/execution/batching.py)."""

from __future__ import annotations

import math

import pytest

from symopt.search.config.loading import SearchConfig
from symopt.search.evolution.loop import run_search
from symopt.search.execution.batching import BatchingExecutor
from symopt.search.execution.executor import (
    EvalJob,
    EvalOutcome,
    InlineExecutor,
    evaluate_batch_text,
    evaluate_text,
)
from symopt.search.storage.store import RunStore


def test_jobs_go_in_groups_of_at_most_batch_and_each_gets_its_own_outcome():
    groups = []

    def lengths(texts, spec):
        groups.append((len(texts), spec["batch_hurdles"]))
        return [EvalOutcome(float(len(t)), "ok") for t in texts]

    ex = BatchingExecutor(InlineExecutor(lengths), batch=2)
    futures = [ex.submit(EvalJob("x" * n, {"name": "q", "hurdles": [[5, float(n)]]}))
               for n in (1, 2, 3, 4, 5)]
    assert [ex.outcome(f).fitness for f in futures] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert [size for size, _ in groups] == [2, 2, 1]
    assert groups[1][1] == [[[5, 3.0]], [[5, 4.0]]]  # each job keeps its own hurdles


def test_a_failed_group_gives_its_outcome_to_every_candidate():
    ex = BatchingExecutor(InlineExecutor(lambda texts, spec: EvalOutcome(
        math.inf, "timeout", "killed")), batch=3)
    futures = [ex.submit(EvalJob(t, {"name": "q"})) for t in "abc"]
    assert [ex.outcome(f).status for f in futures] == ["timeout"] * 3
    # each was retried once (in a group of the three), and says so
    assert all("retried once after a transient failure: timeout: killed" in ex.outcome(f).message
               for f in futures)


def test_a_members_transient_failure_is_retried_once_in_a_group_of_its_own():
    calls = []  # the texts of each job the inner executor ran

    def flaky(texts, spec):
        texts = list(texts)  # the batch of program texts
        calls.append(texts)
        first = len(calls) == 1

        def one(t):
            if t == "slow" and first:
                return EvalOutcome(math.inf, "timeout", "stopped at the time limit")
            if t == "dead":
                return EvalOutcome(math.inf, "error", "worker died", crashed=True)
            if t == "bad":
                return EvalOutcome(math.inf, "diverged", "loss nan")
            return EvalOutcome(float(len(t)), "ok")

        return [one(t) for t in texts]

    ex = BatchingExecutor(InlineExecutor(flaky), batch=4)
    futures = {t: ex.submit(EvalJob(t, {"name": "q"})) for t in ("ok", "slow", "dead", "bad")}
    out = {t: ex.outcome(f) for t, f in futures.items()}
    # the transient two trained once more, together; the program's own failure did not
    assert calls == [["ok", "slow", "dead", "bad"], ["slow", "dead"]]
    assert (out["slow"].status, out["slow"].fitness) == ("ok", 4.0)
    assert "retried once after a transient failure: timeout" in out["slow"].message
    assert out["dead"].crashed and out["dead"].transient  # twice: final, never cached
    assert (out["bad"].status, out["ok"].fitness) == ("diverged", 2.0)
    assert "retried" not in out["bad"].message + out["ok"].message


@pytest.mark.slow
def test_a_batched_search_trains_each_candidate_as_alone(tmp_path):
    cfg = SearchConfig.from_dict({
        "search": {"population": 4, "budget": 5, "batch": 2, "random_seed": 2},
        "task": {"name": "quadratic", "seeds": [0, 1], "lr_multipliers": [1.0],
                 "overrides": {"steps": 10, "n_evals": 1}},
        "mutation": {"max_statements": 5},  # one size class: one compile (in this process)
    })
    executor = BatchingExecutor(InlineExecutor(evaluate_batch_text), cfg.search.batch)
    res = run_search(cfg, tmp_path / "run", seeds=["sgd"], executor=executor)
    assert res.stats.evaluations == 5
    store = RunStore.open(tmp_path / "run")
    trained = [r for r in store.candidates() if not r.cache_hit]
    spec = {**cfg.task.spec(), "engine": "interpreted"}
    for rec in trained[1:3]:  # children that went through the batched path
        alone = evaluate_text(rec.program_text, spec)
        assert rec.status == alone.status
        if alone.ok:
            assert rec.fitness == pytest.approx(alone.fitness, rel=1e-5)
    store.close()
