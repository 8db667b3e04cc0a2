"""Contract tests like optax's own: every classic program converges on a parabola and on
Rosenbrock under `jax.jit` (optax's alias_test: same problems, starts and minima)."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest
from classics import CLASSICS
from helpers import train_steps
from paths import builtin_file

from symopt.compile import to_optax
from symopt.lang import parse_file

# learning rate and weight decay of each program: the shared table (tests/classics.py)
LEARNING_RATES = {name: c.convergence_lr for name, c in CLASSICS.items()}
WEIGHT_DECAY = {name: c.weight_decay for name, c in CLASSICS.items() if c.weight_decay}


def with_weight_decay(program, value):
    """`program` with the constant c of its `w * c` statement set to `value`."""
    w = program.params[0]
    [stmt] = [s for s in program.body if s.fn == "mul" and w in s.args]
    new = dataclasses.replace(
        stmt, args=tuple(a if isinstance(a, str) else value for a in stmt.args))
    body = tuple(new if s is stmt else s for s in program.body)
    return program.replace(body=body)


def test_weight_decay_helper_changes_only_the_decay():
    program = parse_file(builtin_file("adamw"))
    changed = with_weight_decay(program, 1e-4).constants()
    assert [a for a, b in zip(program.constants(), changed, strict=True) if a != b] == [0.01]
    assert 1e-4 in changed


def parabola(p):
    return jnp.sum((p - jnp.array([1.0, -1.0, 1.0])) ** 2)


def rosenbrock(p):
    return (1.0 - p[0]) ** 2 + 100.0 * (p[1] - p[0] ** 2) ** 2


PROBLEMS = {
    "parabola": (parabola, jnp.array([-1.0, 10.0, 1.0]), np.array([1.0, -1.0, 1.0])),
    "rosenbrock": (rosenbrock, jnp.array([0.0, 0.0]), np.array([1.0, 1.0])),
}


def test_every_program_has_a_learning_rate(root):
    assert {p.stem for p in (root / "programs").glob("*.prog")} == set(LEARNING_RATES)


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("name", sorted(LEARNING_RATES))
def test_converges(name, problem):
    loss, start, minimum = PROBLEMS[problem]
    program = parse_file(builtin_file(name))
    if name in WEIGHT_DECAY:
        program = with_weight_decay(program, WEIGHT_DECAY[name])
    lr = LEARNING_RATES[name]
    tx = to_optax(program, lr[problem] if isinstance(lr, dict) else lr)
    solution = train_steps(tx, start, loss, 10_000)
    np.testing.assert_allclose(solution, minimum, rtol=1e-2, atol=1e-2)
