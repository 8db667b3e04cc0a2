"""State-slot elimination: dead slots dropped, equal slots merged, same numbers, one cache entry."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from paths import builtin_file

from symopt.analysis import canonical_hash, memory_line, prune_slots, remove_dead, simplify
from symopt.cli import main
from symopt.compile import to_optax
from symopt.lang import is_valid, parse, parse_file, to_text
from symopt.lang.dead_code import state_values
from symopt.search.config.loading import SearchConfig
from symopt.search.evolution.loop import run_search, statement_count_fitness
from symopt.search.evolution.population import AgingPopulation, Member, child_rng

# AdamW's second moment feeds nothing: Lion's search removed it the same way.
DEAD_SLOT = """
def train(w, g, m, v, lr):
    v = interp(square(g), v, 0.999)
    c = interp(g, m, 0.9)
    update = sign(c) + w * 0.1
    update = update * (lr * 0.1)
    m = interp(g, m, 0.99)
    return update, m, v
"""
# Two slots computed the same way from their own old values hold equal values for ever
# (the same dataflow up to names and copies; algebraic rewrites are not looked for).
EQUAL_SLOTS = """
def train(w, g, a, m, b, lr):
    a = interp(g, a, 0.9)
    m = interp(g, m, 0.99)
    t = interp(g, b, 0.9)
    b = t
    x = a + b
    x = x * 0.5
    c = interp(g, m, 0.9)
    update = sign(c) + x * 0.0
    update = update + w * 0.1
    update = update * (lr * 0.1)
    return update, a, m, b
"""


def _updates(program, steps=6, seed=0):
    """The update of every step on random gradients (float32), params moving as in training."""
    rng = np.random.default_rng(seed)
    params = {"a": jnp.asarray(rng.normal(size=(3, 2)), jnp.float32),
              "b": jnp.asarray(rng.normal(size=()), jnp.float32)}
    tx = to_optax(program, 1e-2)
    state = tx.init(params)
    out = []
    for _ in range(steps):
        g = jax.tree_util.tree_map(lambda x: jnp.asarray(rng.normal(size=x.shape), x.dtype), params)
        u, state = tx.update(g, state, params)
        params = jax.tree_util.tree_map(lambda p, d: p + d, params, u)
        out.append(u)
    return out


def _same_numbers(a, b):
    for ua, ub in zip(_updates(a), _updates(b), strict=True):
        for x, y in zip(jax.tree_util.tree_leaves(ua), jax.tree_util.tree_leaves(ub), strict=True):
            np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-6, atol=1e-9)


def test_dead_slot_is_removed_and_numbers_do_not_change():
    p = parse(DEAD_SLOT)
    q = remove_dead(p)
    assert p.n_state == 2 and q.n_state == 1 and q.state_names == ("m",)
    assert is_valid(q)
    _same_numbers(p, q)
    s = simplify(p)
    assert s.n_state == 1
    _same_numbers(p, s)
    assert canonical_hash(q) == canonical_hash(remove_dead(parse_file(builtin_file("lion"))))


def test_equal_slots_are_merged_and_numbers_do_not_change():
    p = parse(EQUAL_SLOTS)
    q = prune_slots(p)
    # a and b are always equal; m is a different average: 3 slots -> 2
    assert q.state_names == ("a", "m") and is_valid(q)
    _same_numbers(p, q)
    assert simplify(p).n_state == 2
    _same_numbers(p, simplify(p))


def test_slots_equal_only_if_their_inputs_are_equal_are_kept_apart():
    # a and b follow one rule over m and n: equal only if m == n, which they are not
    p = parse("def train(w, g, a, b, m, n, lr):\n    a = interp(m, a, 0.9)\n"
              "    b = interp(n, b, 0.9)\n    m = interp(g, m, 0.5)\n"
              "    n = interp(g, n, 0.7)\n    return (a + b) * lr, a, b, m, n")
    assert prune_slots(p) is p
    # b reads nothing of its own past: its slot is not memory at all
    q = parse("def train(w, g, a, m, b, lr):\n    a = interp(g, a, 0.9)\n"
              "    m = interp(g, m, 0.5)\n    b = interp(g, m, 0.9)\n"
              "    return (a + b) * lr, a, m, b")
    assert prune_slots(q).state_names == ("a", "m")
    _same_numbers(q, prune_slots(q))


def test_a_slot_that_feeds_a_live_slot_is_live():
    p = parse("def train(w, g, m, v, lr):\n    v = interp(g, v, 0.9)\n"
              "    m = interp(v, m, 0.9)\n    return m * lr, m, v")
    assert remove_dead(p).n_state == 2


def test_memory_of_the_classic_programs():
    assert memory_line(parse_file(builtin_file("adamw"))) == \
        "optimizer memory: 2 state values per parameter"
    assert memory_line(parse_file(builtin_file("lion"))) == \
        "optimizer memory: 1 state value per parameter"
    assert state_values(parse_file(builtin_file("sgd"))) == 0
    assert state_values(parse(DEAD_SLOT)) == 1


def test_search_counts_programs_differing_by_a_useless_slot_as_one(tmp_path):
    (tmp_path / "lion.prog").write_text(to_text(parse_file(builtin_file("lion"))))
    (tmp_path / "dead.prog").write_text(DEAD_SLOT)
    trained = []

    def fitness(text, spec):
        trained.append(text)
        return statement_count_fitness(text, spec)

    cfg = SearchConfig.from_dict({"search": {"population": 2, "budget": 1, "random_seed": 0}})
    res = run_search(cfg, tmp_path / "r", seeds=[str(tmp_path / "lion.prog"),
                                                 str(tmp_path / "dead.prog")],
                     evaluate_fn=fitness)
    assert len(trained) == 1 and res.stats.cache_hits >= 1
    assert parse(trained[0]).n_state == 1
    assert "optimizer memory: 1 state value per parameter" in res.stats.summary()


def test_tournament_tie_goes_to_fewer_slots():
    pop = AgingPopulation(size=2, tournament=2)
    pop.add(Member(0, 0.5, parse_file(builtin_file("lion"))))
    pop.add(Member(1, 0.5, parse(DEAD_SLOT)))
    pop.add(Member(2, 0.5, parse_file(builtin_file("adamw"))))
    # members 1 (1 live slot) and 2 (2 slots): the younger loses the tie
    assert all(pop.select(child_rng(0, i)).id == 1 for i in range(5))
    assert pop.best().id == 1
    worse = AgingPopulation(size=2, tournament=2)
    worse.add(Member(0, 0.4, parse_file(builtin_file("adamw"))))
    worse.add(Member(1, 0.5, parse_file(builtin_file("lion"))))
    assert worse.best().id == 0  # fitness first


def test_simplify_cli_reports_memory(tmp_path, capsys):
    f = tmp_path / "dead.prog"
    f.write_text(DEAD_SLOT)
    assert main(["simplify", str(f)]) == 0
    out, err = capsys.readouterr()
    assert "def train(w, g, m, lr):" in out
    assert "state slots: 2 -> 1" in err
    assert "optimizer memory: 1 state value per parameter" in err


@pytest.mark.parametrize("path", [builtin_file("adamw"), builtin_file("lion")])
def test_classic_programs_keep_their_slots(path):
    p = parse_file(path)
    assert remove_dead(p).n_state == p.n_state
