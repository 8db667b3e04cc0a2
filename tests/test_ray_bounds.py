"""Every wait of the Ray executor has a bound (issue 25): an actor that hangs in an
evaluation, past anything its time limit can interrupt, is killed and the evaluation retried
once on a fresh actor, then stored as a transient `timeout` (never cached) while the search
completes; a pool whose actors cannot start fails its evaluations with the cause instead
of waiting for ever. Both against a real local Ray, with the bounds made small."""

import math

import pytest

from symopt.search.config.loading import SearchConfig
from symopt.search.evolution.loop import run_search
from symopt.search.execution import ray_executor
from symopt.search.execution.executor import make_executor
from symopt.search.storage.cache import EquivalenceCache, task_namespace
from symopt.search.storage.store import RunStore


@pytest.mark.slow
def test_a_hung_ray_actor_is_given_up_retried_once_and_never_cached(tmp_path, monkeypatch):
    def hang_on_sign(text, spec):  # nested: Ray pickles it by value
        import time

        from symopt.search.evolution.loop import statement_count_fitness

        if "sign" in text:
            time.sleep(600)  # no time limit reaches into a sleep
        return statement_count_fitness(text, spec)

    monkeypatch.setattr(ray_executor, "ANSWER_SLACK_S", 3.0)  # give up at 1 s + 3 s
    cfg = SearchConfig.from_dict({
        "search": {"population": 4, "budget": 10, "random_seed": 1, "workers": 2},
        "mutation": {"functions": ["sign", "abs", "square"]},
        "task": {"name": "quadratic", "time_limit_s": 1.0},
        "cache": {"fingerprint": False}, "executor": {"kind": "ray"}})
    run = tmp_path / "r"
    executor = make_executor(cfg.executor, 2, evaluate_fn=hang_on_sign, run_dir=run)
    try:
        res = run_search(cfg, run, seeds=["momentum"], executor=executor,
                         run_funnel_after=False)
    finally:
        executor.shutdown()
    rows = [r for r in RunStore.open(run).candidates() if not r.cache_hit]
    hung = [r for r in rows if "sign" in r.program_text]
    assert hung, "the search should have tried a program with sign"
    assert res.stats.evaluations == 10 and not res.seed_failed and not res.interrupted
    for r in hung:
        assert r.status == "timeout" and math.isinf(r.fitness)
        assert r.message == ("no answer from the Ray worker within its time limit plus 3s, "
                             "also when retried on a fresh worker")
    assert all(r.status == "ok" for r in rows if "sign" not in r.program_text)
    assert res.stats.transient == len(hung)
    cache = EquivalenceCache(run / "cache.sqlite", task_namespace(cfg.task.spec()))
    assert all(cache.get("hash", r.hash) is None for r in hung)  # the machine's, not theirs
    assert any(cache.get("hash", r.hash) is not None for r in rows if r.status == "ok")


@pytest.mark.slow
def test_a_pool_whose_actors_cannot_start_fails_with_the_cause(tmp_path, monkeypatch):
    """No node has 10,000 CPUs: Ray would keep the actors pending for ever. The seed's
    evaluation fails naming the resources, so the search stops at once (seed failed)."""
    monkeypatch.setattr(ray_executor, "START_LIMIT_S", 3.0)
    cfg = SearchConfig.from_dict({
        "search": {"population": 4, "budget": 10, "workers": 1},
        "task": {"name": "quadratic", "overrides": {"steps": 20}},
        "executor": {"kind": "ray", "cpus_per_eval": 10_000}})
    run = tmp_path / "r"
    executor = make_executor(cfg.executor, 1, run_dir=run)
    try:
        res = run_search(cfg, run, seeds=["sgd"], executor=executor, run_funnel_after=False)
    finally:
        executor.shutdown()
    assert res.stats.evaluations == 1
    assert res.seed_failed.startswith(
        "the seed sgd failed: error (Ray: no worker of the pool started within 3s (each needs "
        "cpus_per_eval = 10000 and gpus_per_eval = 0 on one node: does the cluster have them?))")
    assert res.stats.transient == 1
