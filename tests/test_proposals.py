"""`[search] method`: the constants-only and random-search baselines share the search."""

from __future__ import annotations

import random

from symopt import programs
from symopt.analysis import canonical_hash, remove_dead
from symopt.lang import parse
from symopt.search.config.loading import SearchConfig
from symopt.search.evolution.loop import run_search, statement_count_fitness
from symopt.search.evolution.mutation import MutationConfig
from symopt.search.evolution.population import AgingPopulation, Member
from symopt.search.evolution.proposals import Proposer
from symopt.search.storage.store import RunStore

ADAMW = programs.load("adamw")


def structure(program):
    """The program with every constant set to 1.0: what constant tuning may not change."""
    return program.with_constants([1.0] * len(program.constants()))


def stored(run_dir):
    store = RunStore.open(run_dir)
    try:
        return store.candidates()
    finally:
        store.close()


def test_constants_method_never_changes_a_programs_structure(tmp_path):
    cfg = SearchConfig.from_dict({"search": {"population": 4, "budget": 12,
                                             "method": "constants"},
                                  "mutation": {"max_statements": 20}})
    run_search(cfg, tmp_path / "run", seeds=["adamw"],
               evaluate_fn=statement_count_fitness)
    records = stored(tmp_path / "run")
    children = [r for r in records if r.operator != "seed"]
    assert len({r.hash for r in children}) >= 10  # it did search: many distinct programs
    assert {r.operator for r in children} == {"perturb_constant"}
    for r in children:
        program = parse(r.program_text)
        assert structure(program) == structure(ADAMW)
        assert program.constants() != ADAMW.constants()


def test_constants_proposer_keeps_structure_over_many_draws():
    propose = Proposer("constants", MutationConfig(), ADAMW)
    pop = AgingPopulation(4, 2)
    pop.reset([Member(0, 1.0, ADAMW)])
    rng = random.Random(0)
    for i in range(200):
        parent, child = propose(rng, pop)
        assert structure(child.program) == structure(ADAMW)
        pop.add(Member(i + 1, 1.0, child.program))


def test_random_method_never_starts_from_the_seed(tmp_path):
    cfg = SearchConfig.from_dict({"search": {"population": 4, "budget": 12, "method": "random"},
                                  "mutation": {"max_statements": 20}})
    run_search(cfg, tmp_path / "run", seeds=["adamw"],
               evaluate_fn=statement_count_fitness)
    records = stored(tmp_path / "run")
    seed_hash = canonical_hash(remove_dead(ADAMW))
    children = [r for r in records if r.operator != "seed"]
    assert len(children) >= 11
    n = len(ADAMW.body)
    for r in children:
        assert r.operator == "random" and r.parent_id is None
        assert r.hash != seed_hash
        program = parse(r.program_text)
        assert program.params == ADAMW.params and program.returns == ADAMW.returns
        assert 0.75 * n - 1 <= len(program.body) <= 1.25 * n + 1  # similar length


def test_random_proposer_does_not_read_the_population():
    propose = Proposer("random", MutationConfig(), ADAMW)
    parent, child = propose(random.Random(1), population=None)  # None would fail a select
    assert parent is None and child.operator == "random"


def test_evolution_is_the_default_and_mutates_structure(tmp_path):
    cfg = SearchConfig.from_dict({"search": {"population": 4, "budget": 12}})
    assert cfg.search.method == "evolution"
    run_search(cfg, tmp_path / "run", seeds=["adamw"],
               evaluate_fn=statement_count_fitness)
    children = [r for r in stored(tmp_path / "run") if r.operator != "seed"]
    assert any(structure(parse(r.program_text)) != structure(ADAMW) for r in children)
    assert all(r.parent_id is not None for r in children)
