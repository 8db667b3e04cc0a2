"""The run store: durable candidates, population recovery, atomic outputs; the cache."""

import math
import sqlite3

import pytest

from symopt.errors import UserError
from symopt.search.storage.cache import EquivalenceCache, task_namespace
from symopt.search.storage.store import CandidateRecord, FunnelRecord, RunStore, write_atomic


def test_candidates_round_trip_and_survive_reopen(tmp_path):
    store = RunStore.create(tmp_path, {"search": {"population": 3}}, [("s.prog", "text")])
    ids = [store.add(CandidateRecord(program_text=f"p{i}", fitness=f, status=s, hash=f"h{i}"))
           for i, (f, s) in enumerate([(1.5, "ok"), (math.inf, "diverged"), (0.5, "ok")])]
    store.close()
    again = RunStore.open(tmp_path)
    recs = again.candidates()
    assert [r.id for r in recs] == ids
    assert [r.fitness for r in recs] == [1.5, math.inf, 0.5]
    assert recs[1].status == "diverged"
    assert again.config == {"search": {"population": 3}}
    assert again.seeds == [("s.prog", "text")]
    assert [r.id for r in again.best(2)] == [ids[2], ids[0]]


def test_population_is_latest_snapshot_plus_later_candidates(tmp_path):
    store = RunStore.create(tmp_path, {}, [])
    a = store.add(CandidateRecord(program_text="a"))
    store.add_snapshot([a, a, a], "warm start")
    b = store.add(CandidateRecord(program_text="b"))
    c = store.add(CandidateRecord(program_text="c"))
    assert store.population(3) == [a, b, c]
    assert store.population(4) == [a, a, b, c]
    store.add_snapshot([c, c, c], "restart")
    assert store.population(3) == [c, c, c]


def test_create_refuses_existing_run_and_open_needs_one(tmp_path):
    RunStore.create(tmp_path / "r", {}, []).close()
    with pytest.raises(UserError, match="--resume"):
        RunStore.create(tmp_path / "r", {}, [])
    with pytest.raises(UserError, match="no run to resume"):
        RunStore.open(tmp_path / "empty")


def test_write_atomic_replaces_whole_file_and_leaves_no_temp(tmp_path):
    p = tmp_path / "best.prog"
    write_atomic(p, "old")
    write_atomic(p, "new text")
    assert p.read_text() == "new text"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["best.prog"]


def test_cache_is_namespaced_shared_and_skips_timeouts(tmp_path):
    path = tmp_path / "cache.sqlite"
    quad = task_namespace({"name": "quadratic", "seeds": [0]})
    a = EquivalenceCache(path, quad)
    b = EquivalenceCache(path, quad)  # a second writer on the same file
    other = EquivalenceCache(path, task_namespace({"name": "mlp", "seeds": [0]}))
    a.put("h", "f", 0.25, "ok")
    b.put("h2", None, math.inf, "diverged")
    b.put("h3", "f3", math.inf, "timeout")
    assert b.get("hash", "h").fitness == 0.25
    assert a.get("fingerprint", "f").fitness == 0.25
    assert a.get("hash", "h2") == (math.inf, "diverged")
    assert a.get("hash", "h3") is None
    assert other.get("hash", "h") is None
    assert len(a) == 3
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_a_store_from_before_the_funnel_opens_and_records_funnel_rows(tmp_path):
    store = RunStore.create(tmp_path, {"search": {}}, [("s.prog", "def train(w, g, lr): ...")])
    store.add(CandidateRecord(program_text="p", fitness=1.0, hash="h"))
    store.close()
    con = sqlite3.connect(tmp_path / "run.sqlite")
    con.execute("DROP TABLE funnel")  # as written by symopt before the funnel existed
    con.commit()
    con.close()
    store = RunStore.open(tmp_path)
    assert store.funnel_records() == [] and [r.hash for r in store.candidates()] == ["h"]
    rec = FunnelRecord(stage=1, task="t", spec="{}", program_hash="h", candidate_id=1,
                       is_seed=False, fitness=float("inf"), status="diverged",
                       seed_fitness=2.0, passed=False)
    store.add_funnel(rec)
    store.close()
    again = RunStore.open(tmp_path).funnel_records()
    assert [(r.id, r.fitness, r.passed, r.is_seed, r.seed_fitness) for r in again] == [
        (1, float("inf"), False, False, 2.0)]


def test_a_run_stored_with_the_old_seed_key_reads_as_random_seed(tmp_path):
    import warnings

    from symopt.search.config.loading import SearchConfig

    store = RunStore.create(tmp_path, {"search": {"seed": 5, "budget": 3}}, [("s", "x")])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no deprecation message for a stored run
            cfg = SearchConfig.from_dict(store.config)
    finally:
        store.close()
    assert cfg.search.random_seed == 5 and cfg.search.budget == 3
