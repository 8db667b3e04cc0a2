"""The compiler: semantics of scopes and kinds, dtypes, pytrees, jit, dead code, errors."""

from __future__ import annotations

from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from paths import PROGRAM_FILES, builtin_file

from symopt.compile import init_state, to_optax, update_fn
from symopt.errors import ProgramError, UserError
from symopt.lang import parse, parse_file

PROGRAMS = [Path(f) for f in PROGRAM_FILES]

TREE = {
    "a": [np.array([[1.0, -2.0], [3.0, 0.5]], np.float32), np.array([0.25, -4.0, 2.0], np.float32)],
    "b": (np.array(3.0, np.float32),),
}


def leaves(tree):
    return [np.asarray(x, np.float64) for x in jax.tree_util.tree_leaves(tree)]


def run_once(src, params, grads, lr=0.5, step=1):
    program = parse(src)
    state = tuple(jax.tree_util.tree_map(jnp.zeros_like, params) for _ in range(program.n_state))
    return update_fn(program)(params, grads, state, lr, step)


def test_leaf_scope_reduces_each_leaf():
    upd, _ = run_once("def train(w, g, lr):\n    return g * norm(w) / dot(g, g)", TREE, TREE)
    for u, w in zip(leaves(upd), leaves(TREE), strict=True):
        expected = w * np.linalg.norm(w) / np.sum(w * w)
        np.testing.assert_allclose(u, expected, rtol=1e-6)


def test_global_scope_sees_all_leaves():
    total = np.sqrt(sum(np.sum(x * x) for x in leaves(TREE)))
    upd, _ = run_once("def train(w, g, lr):\n    return g * global_norm(w)", TREE, TREE)
    for u, w in zip(leaves(upd), leaves(TREE), strict=True):
        np.testing.assert_allclose(u, w * total, rtol=1e-6)
    upd, _ = run_once("def train(w, g, lr):\n    return clip_by_global_norm(g, 2.0)", TREE, TREE)
    for u, w in zip(leaves(upd), leaves(TREE), strict=True):
        np.testing.assert_allclose(u, w * 2.0 / total, rtol=1e-6)


def test_cosine_sim_and_leaf_scalar_broadcast():
    src = "def train(w, g, lr):\n    return w * cosine_sim(w, g) + norm(g)"
    grads = jax.tree_util.tree_map(lambda x: x + 1.0, TREE)
    upd, _ = run_once(src, TREE, grads)
    for u, w, g in zip(leaves(upd), leaves(TREE), leaves(grads), strict=True):
        cos = np.sum(w * g) / (np.linalg.norm(w) * np.linalg.norm(g) + 1e-8)
        np.testing.assert_allclose(u, w * cos + np.linalg.norm(g), rtol=1e-5)


def test_step_is_one_based_and_schedule_at_count():
    program = parse("def train(w, g, lr, step):\n    return g * (step * lr)")
    seen = []
    tx = to_optax(program, lambda count: (seen.append(count), 1.0)[1])
    params = jnp.ones(2)
    state = tx.init(params)
    u1, state = tx.update(jnp.ones(2), state, params)
    u2, state = tx.update(jnp.ones(2), state, params)
    assert u1.tolist() == [-1.0, -1.0] and u2.tolist() == [-2.0, -2.0]
    assert [int(c) for c in seen] == [0, 1]


def test_scalar_arithmetic_on_array_lr_and_constants():
    src = "def train(w, g, lr):\n    a = lr * 0.5\n    b = a + exp(0.0)\n    return g * b"
    for lr in (0.5, jnp.float32(0.5)):
        upd, _ = run_once(src, TREE, TREE, lr=lr)
        for u, w in zip(leaves(upd), leaves(TREE), strict=True):
            np.testing.assert_allclose(u, w * 1.25, rtol=1e-7)


def test_protected_division_is_zero_on_zero():
    upd, _ = run_once("def train(w, g, lr):\n    return g / w", [jnp.zeros(2)], [jnp.ones(2)])
    assert upd[0].tolist() == [0.0, 0.0]


@pytest.mark.slow
def test_jit_equals_eager_on_every_program():
    key = jax.random.PRNGKey(3)
    params = {"x": jax.random.normal(key, (3, 2)), "y": [jax.random.normal(key, (4,))]}
    grads = jax.tree_util.tree_map(lambda p: jnp.cos(p) - 0.3, params)
    for path in PROGRAMS:
        program = parse_file(path)
        run = update_fn(program)
        state = tuple(jax.tree_util.tree_map(lambda p: 0.1 * p, params)
                      for _ in range(program.n_state))
        eager = run(params, grads, state, 0.01, 3)
        jitted = jax.jit(run)(params, grads, state, jnp.float32(0.01), jnp.int32(3))
        for a, b in zip(jax.tree_util.tree_leaves(eager), jax.tree_util.tree_leaves(jitted),
                        strict=True):
            np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-9, err_msg=str(path))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["adamw", "lion", "adagrad"])
def test_bfloat16_params_give_bfloat16_state_and_updates(name):
    program = parse_file(builtin_file(name))
    p32 = {"k": jnp.linspace(-1.0, 1.0, 12).reshape(3, 4), "b": jnp.full((4,), 0.5)}
    p16 = jax.tree_util.tree_map(lambda x: x.astype(jnp.bfloat16), p32)
    results = {}
    for label, params in (("f32", p32), ("bf16", p16)):
        tx = to_optax(program, 1e-2)
        state = tx.init(params)
        update = jax.jit(tx.update)
        for _ in range(3):
            grads = jax.tree_util.tree_map(lambda p: jnp.sin(3 * p) + 0.1, params)
            u, state = update(grads, state, params)
            params = optax.apply_updates(params, u)
        results[label] = (u, state, params)
    u, state, params = results["bf16"]
    for x in jax.tree_util.tree_leaves((u, state.slots, params)):
        assert x.dtype == jnp.bfloat16
    for a, b in zip(jax.tree_util.tree_leaves(results["f32"][0]), jax.tree_util.tree_leaves(u),
                    strict=True):
        np.testing.assert_allclose(np.asarray(b, np.float32), a, rtol=0.05, atol=1e-3)


@pytest.mark.slow
def test_flax_params_train_under_jit():
    model = nn.Sequential([nn.Dense(8), nn.tanh, nn.Dense(1)])
    x = jnp.linspace(-1, 1, 32).reshape(16, 2)
    y = jnp.sum(x, axis=1, keepdims=True)
    params = model.init(jax.random.PRNGKey(0), x)
    tx = to_optax(parse_file(builtin_file("adam")), 1e-2)

    def loss(p):
        return jnp.mean((model.apply(p, x) - y) ** 2)

    @jax.jit
    def step(p, s):
        u, s = tx.update(jax.grad(loss)(p), s, p)
        return optax.apply_updates(p, u), s

    state = tx.init(params)
    start = loss(params)
    for _ in range(50):
        params, state = step(params, state)
    assert loss(params) < 0.2 * start


def test_dead_code_is_not_computed():
    src = """
def train(w, g, m, lr):
    unused = exp(m)
    also_unused = cosh(unused)
    m = m * 0.9 + g
    return m * lr, m
"""
    program = parse(src)
    params = jnp.ones(3)
    state = init_state(program, params).slots
    jaxpr = str(jax.make_jaxpr(update_fn(program))(params, params, state, 0.1, 1))
    assert "exp" not in jaxpr and "cosh" not in jaxpr and "mul" in jaxpr


def test_weights_unused_allows_params_none():
    tx = to_optax(parse_file(builtin_file("sgd")), 0.1)
    u, _ = tx.update(jnp.ones(2), tx.init(jnp.ones(2)))
    assert u.tolist() == pytest.approx([-0.1, -0.1])


def test_weights_used_requires_params():
    tx = to_optax(parse_file(builtin_file("adamw")), 0.1)
    with pytest.raises(UserError, match="'w'"):
        tx.update(jnp.ones(2), tx.init(jnp.ones(2)))


def test_invalid_program_is_a_program_error():
    program = parse("def train(w, g, lr):\n    n = norm(g)\n    return n", check=False)
    with pytest.raises(ProgramError, match="must be a Tensor"):
        update_fn(program)


def test_bad_learning_rate_is_a_user_error():
    with pytest.raises(UserError, match="learning_rate"):
        to_optax(parse_file(builtin_file("sgd")), "0.1")
