"""Program -> `optax.GradientTransformation`.

`init` makes one zero pytree per state slot (in the params' dtypes) and a
step counter; `update(grads, state, params)` returns ``-update`` so that
`optax.apply_updates` computes ``w - update``, as the program means.

>>> import jax.numpy as jnp, optax
>>> from symopt import programs
>>> tx = to_optax(programs.load("momentum"), 0.1)
>>> params = {"w": jnp.array([1.0, 2.0])}
>>> state = tx.init(params)
>>> updates, state = tx.update({"w": jnp.array([1.0, 1.0])}, state, params)
>>> [round(x, 6) for x in optax.apply_updates(params, updates)["w"].tolist()], int(state.count)
([0.9, 1.9], 1)
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from symopt.compile.compiler import update_fn
from symopt.errors import UserError
from symopt.lang.model import Program


class ProgramState(NamedTuple):
    """The optax state of a compiled program: steps taken, and the state slots."""

    count: jax.Array  # int32, steps taken so far (the program's `step` is count + 1)
    slots: tuple[Any, ...]  # one pytree shaped like params per state slot


def init_state(program: Program, params) -> ProgramState:
    """The initial state for `program`: count 0 and zero state slots shaped like `params`.

    >>> import jax.numpy as jnp
    >>> from symopt import programs
    >>> s = init_state(programs.load("adam"), {"a": jnp.ones(3, jnp.bfloat16)})
    >>> len(s.slots), s.slots[0]["a"].dtype, int(s.count)
    (2, dtype(bfloat16), 0)
    """
    slots = tuple(jax.tree_util.tree_map(jnp.zeros_like, params)
                  for _ in range(program.n_state))
    return ProgramState(count=jnp.zeros([], jnp.int32), slots=slots)


def _check_learning_rate(learning_rate) -> None:
    if callable(learning_rate) or isinstance(learning_rate, (int, float)):
        return
    if isinstance(learning_rate, jax.Array) and learning_rate.ndim == 0:
        return
    raise UserError(f"learning_rate must be a number or an optax schedule, "
                    f"got {type(learning_rate).__name__}")


def to_optax(program: Program, learning_rate) -> optax.GradientTransformation:
    """An optax optimizer that runs `program`; `learning_rate` is a float or a schedule.

    The schedule is evaluated at the step count before the update (as optax does);
    the program's `step` is that count plus one.

    >>> import jax.numpy as jnp, optax
    >>> from symopt import programs
    >>> tx = to_optax(programs.load("sgd"), optax.linear_schedule(1.0, 0.0, 10))
    >>> p = jnp.array([1.0])
    >>> u, s = tx.update(jnp.array([1.0]), tx.init(p), p)
    >>> u.tolist()
    [-1.0]
    """
    _check_learning_rate(learning_rate)
    run = update_fn(program)

    def init(params):
        return init_state(program, params)

    def update(grads, state, params=None):
        count = state.count
        lr = learning_rate(count) if callable(learning_rate) else learning_rate
        step = (count + 1).astype(jnp.float32)
        upd, slots = run(params, grads, state.slots, lr, step)
        upd = jax.tree_util.tree_map(jnp.negative, upd)
        next_count = jnp.where(count < jnp.iinfo(jnp.int32).max, count + 1, count)
        return upd, ProgramState(count=next_count, slots=slots)

    return optax.GradientTransformation(init, update)
