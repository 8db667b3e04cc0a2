"""Outcome classes (issue 25): a program's own failures are cached; transient ones (a
timeout, a dead worker) are retried once and never cached; a search whose seed cannot
train stops at once (exit 3) naming the cause; reports never compare with a failed seed."""

import math

import pytest
from paths import builtin_file

from symopt.search.config.loading import SearchConfig
from symopt.search.evolution.loop import run_search, statement_count_fitness
from symopt.search.execution.executor import EvalOutcome
from symopt.search.storage.cache import EquivalenceCache, task_namespace
from symopt.search.storage.store import RunStore


def _timeout_on_sign(text, spec):
    if "sign" in text:
        return EvalOutcome(math.inf, "timeout", "stopped at the time limit")
    return statement_count_fitness(text, spec)


def test_transient_outcomes_are_not_cached_and_twins_train(tmp_path):
    cfg = SearchConfig.from_dict({"search": {"population": 4, "budget": 30, "random_seed": 1},
                                  "mutation": {"functions": ["sign", "abs", "square"]},
                                  "cache": {"fingerprint": False}})
    res = run_search(cfg, tmp_path / "r", seeds=[builtin_file("momentum")],
                     evaluate_fn=_timeout_on_sign)
    rows = RunStore.open(tmp_path / "r").candidates()
    timed_out = [r for r in rows if r.status == "timeout"]
    assert timed_out, "the search should have tried a program with sign"
    assert res.stats.transient == len(timed_out) and not any(r.cache_hit for r in timed_out)
    cache = EquivalenceCache(tmp_path / "r" / "cache.sqlite", task_namespace(cfg.task.spec()))
    assert all(cache.get("hash", r.hash) is None for r in timed_out)
    assert any(cache.get("hash", r.hash) is not None for r in rows if r.status == "ok")
    assert "transient failures: " in res.stats.summary()

    from symopt.report.run_report import write_run_report

    text = write_run_report(tmp_path / "r", curves=False).read_text()
    assert "met a transient failure" in text.split("\n## ")[0]  # warned before any section


@pytest.mark.slow
def test_a_time_limit_shorter_than_the_first_compile_caches_no_timeout(tmp_path):
    """Artificial load: the limit (0.5 s, killed at 2.5 s) is shorter than the worker's
    import and first compile (seconds here); the clock starts after them, so the search
    completes its budget with real fitness values and nothing timed out."""
    cfg = SearchConfig.from_dict({
        "search": {"population": 4, "budget": 5, "random_seed": 0, "workers": 1},
        "task": {"name": "quadratic", "time_limit_s": 0.5, "overrides": {"steps": 40}},
        "cache": {"fingerprint": False}})
    res = run_search(cfg, tmp_path / "r", seeds=["momentum"], run_funnel_after=False)
    rows = [r for r in RunStore.open(tmp_path / "r").candidates() if not r.cache_hit]
    assert res.stats.evaluations == 5 and not res.seed_failed
    assert [r.status for r in rows if r.status == "timeout"] == []
    assert math.isfinite(res.stats.seed_fitness)
    assert sum(math.isfinite(r.fitness) for r in rows) >= 3  # really trained
    assert res.stats.transient == 0


def _always_timeout(text, spec):
    return EvalOutcome(math.inf, "timeout", "stopped at the time limit of 120s")


def test_a_seed_that_cannot_train_stops_the_search_at_once(tmp_path):
    cfg = SearchConfig.from_dict({"search": {"population": 4, "budget": 20},
                                  "task": {"time_limit_s": 120.0}})
    res = run_search(cfg, tmp_path / "r", seeds=["sgd"], evaluate_fn=_always_timeout)
    assert res.seed_failed.startswith("the seed sgd timed out at 120 s")
    assert res.seed_failed.endswith("raise [task] time_limit_s")
    assert res.stats.evaluations == 1 and not res.interrupted
    summary = res.stats.summary()
    assert "nan" not in summary and "seed fitness none (the seed did not train)" in summary

    from symopt.report.run_report import write_run_report

    text = write_run_report(tmp_path / "r", curves=False).read_text()
    first = text.split("\n## ")[0]  # the warning comes before every section
    assert "Warning: the seed did not train" in first
    assert "beat the seed" not in text and "nan" not in text and "× the seed" not in text


@pytest.mark.slow
def test_a_batch_compiles_before_its_clock_as_a_single_job_does():
    """The batched path under artificial load: a time limit (0.3 s a member) shorter than
    the worker's compile of the batch's runner; the compile is untimed (as in
    `evaluate_text`), so both members train and none times out."""
    from symopt import programs
    from symopt.search.execution.executor import EvalJob, ProcessExecutor, evaluate_batch_text

    spec = {"name": "quadratic", "overrides": {"steps": 20}, "seeds": [0], "time_limit_s": 0.3,
            "batch_hurdles": [[], []]}
    ex = ProcessExecutor(1, evaluate_batch_text)
    try:
        texts = tuple(programs.path(n).read_text() for n in ("momentum", "adamw"))
        out = ex.outcome(ex.submit(EvalJob(texts, spec)))
    finally:
        ex.shutdown()
    assert isinstance(out, list), out
    assert [o.status for o in out] == ["ok", "ok"] and all(math.isfinite(o.fitness) for o in out)
