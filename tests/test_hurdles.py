"""Hurdles (symopt/search/evolution/hurdles.py) in a real search: runner, store, cache."""

from __future__ import annotations

import math

import pytest

from symopt.search.config.loading import SearchConfig
from symopt.search.evolution.loop import run_search
from symopt.search.storage.cache import EquivalenceCache, task_namespace
from symopt.search.storage.store import RunStore


@pytest.mark.slow
def test_hurdles_stop_children_never_the_seed_and_never_the_best(tmp_path):
    cfg = SearchConfig.from_dict({
        "search": {"population": 4, "tournament": 2, "budget": 14, "random_seed": 1},
        "task": {"name": "quadratic", "overrides": {"steps": 20, "n_evals": 4}},
        "hurdles": {"at": [0.25, 0.5], "rule": "seed", "margin": 0.0},
    })
    # sgd is much worse than adamw here: as a seed it is still never stopped
    res = run_search(cfg, tmp_path / "run", seeds=["adamw", "sgd"])
    store = RunStore.open(tmp_path / "run")
    records = store.candidates()
    seeds = [r for r in records if r.operator == "seed"]
    assert [r.status for r in seeds] == ["ok", "ok"]
    assert all(store.curves(r.id)[0][0][-1] == 20 for r in seeds)  # full runs
    hurdled = [r for r in records if r.status == "hurdle" and not r.cache_hit]
    assert hurdled, "the seed rule with margin 0 should stop some children"
    for r in hurdled:
        assert math.isinf(r.fitness) and store.curves(r.id)[0][0][-1] in (5, 10)  # partial
        assert "above the hurdle" in r.message
    assert res.best.status == "ok" and math.isfinite(res.best.fitness)
    assert res.stats.stopped_hurdle == len(hurdled) and res.stats.saved_seconds > 0
    assert "at a hurdle" in res.stats.summary()
    cache = EquivalenceCache(tmp_path / "run" / "cache.sqlite", task_namespace(cfg.task.spec()))
    assert cache.get("hash", hurdled[0].hash).status == "hurdle"
    cache.close()
    store.close()


def test_copies_of_one_member_count_once_for_the_quantile():
    from symopt.search.evolution.hurdles import HurdleKeeper, HurdlesSection

    keeper = HurdleKeeper(HurdlesSection(at=(0.5,), quantile=0.75, margin=0.1, min_members=2))
    keeper.steps = [10]
    keeper.curves = {1: [(0, 4.0), (10, 2.0)], 2: [(0, 4.0), (10, 3.0)]}
    # a population of seed copies: the seed rule, seed x 1.1
    assert keeper.for_child([1], [1, 1, 1, 1]) == {"hurdles": [[10, 2.2]]}
    # two distinct members: their 75% quantile
    assert keeper.for_child([1], [1, 1, 2, 2]) == {"hurdles": [[10, 2.75]]}
