"""The compile-once engine against the per-program compiled path (symopt/compile/interpreter.py).

Tolerance: both engines run the same registry implementations in float32; they differ
only in rounding (the compiled path folds Python-float constants in double precision,
e.g. ``1 - 0.9`` in `interp`, and fuses differently), a few float32 ulps per step. After
a few update steps that is below 1e-5 relative on the parameters; fitness after a short
training run (tens of steps, where small differences can grow) is compared at 1e-3.
"""

from __future__ import annotations

import functools
import random

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from symopt import programs
from symopt.compile import interpreter, to_optax
from symopt.compile.interpreter import SizeClass, encode, interpreted_tx
from symopt.lang import parse
from symopt.lang.dead_code import remove_dead
from symopt.search.evolution.mutation import Mutator
from symopt.search.evolution.random_programs import random_program
from symopt.tasks import get_task
from symopt.tasks.engine import ProgramOptimizer
from symopt.tasks.train import evaluate

CLASSICS = [programs.load(n) for n in programs.names()]
ADAMW, LION = programs.load("adamw"), programs.load("lion")


def _random_programs(n, seed=0, size=12):
    rng = random.Random(seed)
    return [random_program(rng, (ADAMW, LION)[i % 2], rng.randint(3, size)) for i in range(n)]


def _params(dtype=jnp.float32):
    return {"a": jnp.linspace(-1.0, 1.0, 6, dtype=dtype).reshape(2, 3),
            "b": jnp.array([0.5, -2.0], dtype), "c": jnp.array(0.3, dtype)}


@functools.lru_cache
def _jitted_update(size):
    return jax.jit(lambda arrays, g, s, w: interpreted_tx(0.01, arrays, size).update(g, s, w))


def _train(tx, params, steps, prog=None):
    """`steps` updates on fixed gradients; with `prog`, through one jit per size class."""
    if prog is None:
        update = tx.update
    else:
        update = functools.partial(_jitted_update(prog.size), prog.arrays())
    state, w = tx.init(params), params
    for k in range(steps):
        g = jax.tree_util.tree_map(lambda x, k=k: jnp.sin(x * (k + 1)) + 0.1, w)
        u, state = update(g, state, w)
        w = jax.tree_util.tree_map(lambda a, b: a + b, w, u)
    return w, state


def _max_rel(a, b):
    out = 0.0
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        both_bad = ~np.isfinite(x) & ~np.isfinite(y) & (np.isnan(x) == np.isnan(y))
        d = np.where(both_bad, 0.0, np.abs(x - y) / np.maximum(np.abs(y), 1e-3))
        out = max(out, float(np.nan_to_num(d, nan=np.inf).max()))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("n_programs", [30])
def test_updates_match_compiled_path(n_programs):
    programs = list(CLASSICS) + _random_programs(n_programs)
    assert len(programs) >= 40
    for p in programs:
        w_ref, _ = _train(to_optax(p, 0.01), _params(), 3)
        e = encode(p)
        w_int, _ = _train(interpreted_tx(0.01, e), _params(), 3, prog=e)
        assert _max_rel(w_int, w_ref) < 1e-5, p


@pytest.mark.parametrize("name, n_slots", [("adamw", 2), ("lion", 1)])  # m, v | m
def test_state_is_exactly_the_slots_and_the_count(name, n_slots):
    """The register file is scratch: the state holds n_slots values per parameter (of
    every dtype) plus the step count, and the slots are the compiled engine's."""
    p = programs.load(name)
    mixed = {**_params(), "h": jnp.ones((4,), jnp.bfloat16)}  # 9 float32 + 4 bfloat16 values
    for params, n_params in ((_params(), 9), (mixed, 13)):
        tx = interpreted_tx(0.01, encode(p))
        for state in (tx.init(params), _train(tx, params, 2, prog=encode(p))[1]):
            assert sum(x.size for x in jax.tree_util.tree_leaves(state)) == n_slots * n_params + 1
    _, ref = _train(to_optax(p, 0.01), _params(), 3)
    _, got = _train(interpreted_tx(0.01, encode(p)), _params(), 3, prog=encode(p))
    for k in range(n_slots):
        want = jnp.concatenate([jnp.ravel(x) for x in jax.tree_util.tree_leaves(ref.slots[k])])
        # 1e-4: the compiled path folds AdamW's 1 - 0.999 in double precision, the
        # interpreter in float32 (4.7e-5 relative on v's increment)
        assert _max_rel(got.slots[0][k], want) < 1e-4
    assert int(got.count) == int(ref.count) == 3


@pytest.mark.slow
def test_bfloat16_params_keep_bfloat16_state():
    p = programs.load("adam")
    e = encode(p)
    w, state = _train(interpreted_tx(0.01, e), _params(jnp.bfloat16), 3, prog=e)
    assert all(x.dtype == jnp.bfloat16 for x in jax.tree_util.tree_leaves(w))
    assert all(s.dtype == jnp.bfloat16 for s in state.slots)
    w_ref, _ = _train(to_optax(p, 0.01), _params(jnp.bfloat16), 3)
    assert _max_rel(w, w_ref) < 2e-2  # bfloat16 has 8 bits of mantissa


@pytest.mark.slow
def test_nullary_functions_and_reassigned_lr_and_step_train_in_both_engines():
    prog = parse("def train(w, g, m, lr, step):\n    lr = get_e() * lr\n    step = get_pi()\n"
                 "    m = interp(g, m, 0.9)\n    u = m * get_eps() * lr * step * 1e6\n"
                 "    return u, m")
    task = get_task("quadratic", steps=20)
    results = [evaluate(ProgramOptimizer(prog, e), task) for e in ("compiled", "interpreted")]
    assert [r.status for r in results] == ["ok", "ok"]
    assert results[0].fitness < results[0].curve[0]
    assert abs(results[0].fitness - results[1].fitness) <= 1e-5 * results[0].fitness


@pytest.mark.slow
def test_twenty_programs_of_one_size_class_compile_once():
    task = get_task("quadratic", steps=8, n_evals=2)
    mutator, programs, parent = Mutator(rng=3), {}, LION  # children of a search from lion
    while len(programs) < 20:
        child = mutator.mutate(parent).program
        parent = child if len(child.body) < 8 else LION
        if encode(child).size == SizeClass(16, 1):
            programs.setdefault(str(remove_dead(child)), child)
    programs = list(programs.values())
    assert len({str(p) for p in programs}) == 20
    # The size class's compile is shared by all twenty, so a time limit shorter than it is
    # not charged to the first program (the compiled engine's own compile is: test_isolated).
    first = evaluate(ProgramOptimizer(programs[0], "interpreted"), task, time_limit_s=0.2)
    assert first.compile_s > 0.2 and first.status != "timeout", first
    traced = interpreter.TRACES  # traces of the interpreter: only when (re)compiling
    rest = [evaluate(ProgramOptimizer(p, "interpreted"), task) for p in programs[1:]]
    assert interpreter.TRACES == traced
    assert all(r.compile_s == 0.0 for r in rest)
    assert first.ok and sum(r.ok for r in rest) >= 10  # they really trained
    assert len({r.fitness for r in [first, *rest]}) > 5  # different programs, different results


@pytest.mark.slow
def test_nan_at_step_one_stops_within_a_step_and_names_it():
    prog = parse("def train(w, g, lr):\n    u = power(negative(abs(g)) - 1.0, 0.5)\n"
                 "    return u")
    for engine in ("compiled", "interpreted"):
        r = evaluate(ProgramOptimizer(prog, engine), get_task("quadratic"))
        assert r.status == "diverged" and r.steps <= 2, (engine, r)
        assert "at step 1" in r.message


def _both_engines(name, texts):
    """(compiled, interpreted) (status, fitness, message) of each program on task `name`."""
    task = get_task(name, steps=12, n_evals=1, lr_multipliers=(1.0,))
    out = []
    for text in texts:
        p = parse(text)
        a = evaluate(ProgramOptimizer(p, "compiled"), task)
        b = evaluate(ProgramOptimizer(p, "interpreted"), task)
        out.append(((a.status, a.fitness, a.message), (b.status, b.fitness, b.message)))
    return out


@pytest.mark.slow
def test_fitness_same_with_both_engines_on_two_tasks():
    """Every built-in program on two tasks, and 30 random ones, half on each task
    (tolerance: module doc). The two tasks run in two spawned processes (one compile per
    program and task is the cost)."""
    import concurrent.futures as cf
    import multiprocessing

    from symopt.lang import to_text

    builtins = [to_text(p) for p in CLASSICS]
    randoms = [to_text(p) for p in _random_programs(30, seed=1)]
    texts = {"quadratic": builtins + randoms[::2], "logreg": builtins + randoms[1::2]}
    with cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        runs = {name: pool.submit(_both_engines, name, texts[name]) for name in texts}
        results = {name: f.result() for name, f in runs.items()}
    for name, pairs in results.items():
        compared = 0
        for text, (a, b) in zip(texts[name], pairs, strict=True):
            assert a[0] == b[0], (name, text, a[2], b[2])
            if a[0] == "ok":
                compared += 1
                assert abs(a[1] - b[1]) <= 1e-3 * abs(a[1]) + 1e-7, (name, text)
        assert compared >= 15, (name, compared)  # enough programs really trained
