"""Program -> `optax.GradientTransformationExtraArgs`.

`init` makes one zero pytree per state slot (in the params' dtypes) and a
step counter; `update(grads, state, params, **extra_args)` returns ``-update``
so that `optax.apply_updates` computes ``w - update``, as the program means.
Extra arguments (``value=loss``, ...) are accepted and ignored, as optax's
own optimizers do.

The program runs without its dead statements and dead or duplicate state
slots (`symopt.lang.dead_code.remove_dead`): the state holds only the
slots that matter. Its constants are hyperparameters, one per role
(`symopt.compile.hyper`): `to_optax(program, lr, b1=0.95)` changes one, and
`optimizer(program)` is a factory with every hyperparameter as a keyword
argument, made for `optax.inject_hyperparams`. `make_optimizer(spec, lr, b1=0.95)` (it is
`symopt.optimizer`) reads as optax's aliases do, with a built-in name, a path or a program.

>>> import jax.numpy as jnp, optax
>>> from symopt import programs
>>> tx = to_optax(programs.load("momentum"), 0.1)
>>> params = {"w": jnp.array([1.0, 2.0])}
>>> state = tx.init(params)
>>> updates, state = tx.update({"w": jnp.array([1.0, 1.0])}, state, params, value=3.0)
>>> [round(x, 6) for x in optax.apply_updates(params, updates)["w"].tolist()], int(state.count)
([0.9, 1.9], 1)
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from symopt.compile.compiler import check_real, float_dtype, update_fn
from symopt.compile.hyper import constant_values, hyperparameters
from symopt.errors import UserError
from symopt.lang.dead_code import remove_dead
from symopt.lang.model import Program
from symopt.programs import as_program


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
    check_real(x.dtype for x in jax.tree_util.tree_leaves(params))
    slots = tuple(jax.tree_util.tree_map(jnp.zeros_like, params)
                  for _ in range(program.n_state))
    return ProgramState(count=jnp.zeros([], jnp.int32), slots=slots)


def _is_scalar(x) -> bool:
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return True
    return isinstance(x, (jax.Array, np.ndarray, np.generic)) and np.ndim(x) == 0 and (
        jnp.issubdtype(x.dtype, jnp.floating) or jnp.issubdtype(x.dtype, jnp.integer))


def _check_learning_rate(learning_rate) -> None:
    if callable(learning_rate) or _is_scalar(learning_rate):
        return
    raise UserError(f"learning_rate must be a number, a 0-d array or an optax schedule, "
                    f"got {type(learning_rate).__name__}")


def to_optax(program: Program | str | os.PathLike, learning_rate, **hyperparameters_
             ) -> optax.GradientTransformationExtraArgs:
    """An optax optimizer that runs `program`; `learning_rate` is a number or a schedule.

    `program` is a `Program`, a `.prog` path or a built-in name (``"lion"``).

    Keyword arguments set hyperparameters by name (``b1=0.95``; see
    `symopt.compile.hyper.hyperparameters`), as numbers or 0-d arrays. The
    schedule is evaluated at the step count before the update (as optax does);
    the program's `step` is that count plus one, in the widest floating dtype of
    the gradients (at least float32: float64 parameters count in float64).

    >>> import jax.numpy as jnp, optax
    >>> from symopt import programs
    >>> tx = to_optax(programs.load("sgd"), optax.linear_schedule(1.0, 0.0, 10))
    >>> p = jnp.array([1.0])
    >>> u, s = tx.update(jnp.array([1.0]), tx.init(p), p)
    >>> u.tolist()
    [-1.0]
    """
    _check_learning_rate(learning_rate)
    program = remove_dead(as_program(program))
    hyper = hyperparameters(program)
    names = {h.name for h in hyper}
    for name, value in hyperparameters_.items():
        if name not in names:
            raise UserError(f"unknown hyperparameter {name!r}; this program has: "
                            f"{', '.join(sorted(names)) or 'none'}")
        if not _is_scalar(value):
            raise UserError(f"hyperparameter {name} must be a number or a 0-d array, "
                            f"got {type(value).__name__}")
    consts = constant_values(program, hyper, hyperparameters_)
    return running(program, update_fn(program), learning_rate, consts)


def running(program: Program, run: Callable, learning_rate,
            consts) -> optax.GradientTransformationExtraArgs:
    """The optax transformation around a compiled update `run(params, grads, slots, lr, step,
    consts)` of `program` (`update_fn`): state, step counter, learning rate, sign.
    Shared by `to_optax` and `symopt.compile.traced.to_optax_traced`."""

    def init(params):
        return init_state(program, params)

    def update(grads, state, params=None, **extra_args):
        del extra_args  # optax's GradientTransformationExtraArgs contract
        count = state.count
        lr = learning_rate(count) if callable(learning_rate) else learning_rate
        dtypes = [x.dtype for x in jax.tree_util.tree_leaves(grads)]
        step = (count + 1).astype(float_dtype(dtypes))
        upd, slots = run(params, grads, state.slots, lr, step, consts)
        upd = jax.tree_util.tree_map(jnp.negative, upd)
        return upd, ProgramState(count=optax.safe_increment(count), slots=slots)

    return optax.GradientTransformationExtraArgs(init, update)


def make_optimizer(spec: Program | str | os.PathLike, learning_rate, **hyperparameters_
                   ) -> optax.GradientTransformationExtraArgs:
    """`symopt.optimizer`: the optax optimizer of `spec` (a built-in name such as ``"lion"``,
    a `.prog` path or a `Program`), as ``optax.adamw(3e-4, b1=0.95)`` makes AdamW.

    `learning_rate` is a number, a 0-d array or an optax schedule; keyword arguments set
    the program's hyperparameters by name (`symopt.compile.hyper`); an unknown name, a
    non-scalar value or an unknown spec is a `UserError` (a `ValueError`) naming it.

    >>> import jax.numpy as jnp, optax
    >>> tx = make_optimizer("lion", 3e-4, b1=0.95)
    >>> isinstance(tx, optax.GradientTransformationExtraArgs)
    True
    >>> make_optimizer("lion", 3e-4, beta1=0.95)
    Traceback (most recent call last):
    ...
    symopt.errors.UserError: unknown hyperparameter 'beta1'; this program has: b1, b2, \
lr_scale, weight_decay
    """
    return to_optax(as_program(spec), learning_rate, **hyperparameters_)


def optimizer(program: Program | str | os.PathLike
              ) -> Callable[..., optax.GradientTransformationExtraArgs]:
    """A factory ``f(learning_rate, *, b1=..., ...)`` for `program`, as optax's aliases are.

    Every hyperparameter is a keyword argument with its default, so
    `optax.inject_hyperparams` can turn any of them into state:

    >>> import jax.numpy as jnp, optax
    >>> from symopt import programs
    >>> make = optimizer(programs.load("adamw"))
    >>> str(inspect.signature(make))
    '(learning_rate, *, b1=0.9, b2=0.999, eps=1e-08, weight_decay=0.01)'
    >>> tx = optax.inject_hyperparams(make)(learning_rate=1e-3, b2=0.99)
    >>> round(float(tx.init(jnp.zeros(2)).hyperparams["b2"]), 6)
    0.99
    """
    program = as_program(program)
    hyper = hyperparameters(program)

    def factory(learning_rate, **kwargs):
        return to_optax(program, learning_rate, **kwargs)

    params = [inspect.Parameter("learning_rate", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [inspect.Parameter(h.name, inspect.Parameter.KEYWORD_ONLY, default=h.value)
               for h in hyper]
    factory.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    factory.__doc__ = f"`to_optax` of the program; hyperparameters: {[h.name for h in hyper]}"
    return factory
