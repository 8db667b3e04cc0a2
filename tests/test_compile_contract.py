"""Numerical contract: each classic program equals its optax reference after 100 steps.

Both optimizers train the same problem from the same start, each on its own
trajectory (gradients come from its own parameters), under `jax.jit`, in
float32; the parameters must agree to a relative difference of 1e-6
(max |a - b| over a leaf, divided by max |b| of that leaf).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
import pytest
from classics import MATCHING
from helpers import rel_diff, train_steps
from paths import builtin_file

from symopt.compile import to_optax
from symopt.lang import parse_file

STEPS = 100
TOL = 1e-6

# program file -> (its learning rate, the optax reference): the shared table
CASES = MATCHING


def mlp_problem():
    """A 2-layer tanh MLP regressing a random target; params a nested dict."""
    k = jax.random.split(jax.random.PRNGKey(0), 5)
    x = jax.random.normal(k[0], (64, 8))
    y = jnp.sin(x @ jax.random.normal(k[1], (8, 1)))
    params = {
        "hidden": {"kernel": 0.3 * jax.random.normal(k[2], (8, 16)), "bias": jnp.zeros(16)},
        "out": {"kernel": 0.3 * jax.random.normal(k[3], (16, 1)), "bias": jnp.zeros(1)},
    }

    def loss(p):
        h = jnp.tanh(x @ p["hidden"]["kernel"] + p["hidden"]["bias"])
        return jnp.mean((h @ p["out"]["kernel"] + p["out"]["bias"] - y) ** 2)

    return params, loss


def nested_problem():
    """A random nested pytree (dict, list, tuple, scalar leaf) with a non-quadratic loss."""
    k = jax.random.split(jax.random.PRNGKey(1), 6)
    params = {
        "a": [jax.random.normal(k[0], (3, 4)), (jax.random.normal(k[1], (5,)),
                                                 jax.random.normal(k[2], ()))],
        "b": {"c": jax.random.normal(k[3], (2, 2, 2))},
    }
    targets = jax.tree_util.tree_map(lambda p: jnp.full_like(p, 0.5), params)

    def loss(p):
        terms = jax.tree_util.tree_map(
            lambda w, t: jnp.sum((w - t) ** 2 + 0.1 * jnp.sin(3.0 * w)), p, targets)
        return sum(jax.tree_util.tree_leaves(terms))

    return params, loss


PROBLEMS = {"mlp": mlp_problem, "nested": nested_problem}


def train(tx, params, loss, steps=STEPS):
    return train_steps(tx, params, loss, steps)


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("name", list(CASES))
def test_program_matches_optax(name, problem, record_property):
    lr, reference = CASES[name]
    params, loss = PROBLEMS[problem]()
    ours = train(to_optax(parse_file(builtin_file(name)), lr), params, loss)
    theirs = train(reference(lr), params, loss)
    assert loss(theirs) < 0.9 * loss(params), "the reference did not train: a vacuous comparison"
    diff = rel_diff(ours, theirs)
    record_property("max_rel_diff", diff)
    print(f"{name:9s} {problem:7s} max relative difference {diff:.2e}")
    assert diff <= TOL


@pytest.mark.slow
def test_schedule_matches_optax():
    sched = optax.warmup_cosine_decay_schedule(0.0, 1e-2, 10, 100)
    params, loss = mlp_problem()
    ours = train(to_optax(parse_file(builtin_file("adamw")), sched), params, loss)
    theirs = train(CASES["adamw"][1](sched), params, loss)
    assert rel_diff(ours, theirs) <= TOL
