"""A program as an optax optimizer whose constants are traced values, not baked in.

:func:`to_optax_traced` is :func:`symopt.compile.to_optax` with one more argument: the
program's constants as a vector (in ``program.constants()`` order). The vector can be a
traced JAX value, so one compiled training step serves every value of the constants:
tuning changes them between runs and Population Based Training changes them during a
run, without recompiling. The state is the same ``ProgramState`` as ``to_optax``'s.

>>> import jax.numpy as jnp, optax
>>> from symopt import programs
>>> p = programs.load("momentum")
>>> p.constants()
[0.9]
>>> params = {"w": jnp.array([1.0, 2.0])}
>>> g = {"w": jnp.array([1.0, 1.0])}
>>> tx = to_optax_traced(p, 0.1, jnp.array([0.9]))
>>> ref = to_optax(p, 0.1)
>>> u, _ = tx.update(g, tx.init(params), params)
>>> v, _ = ref.update(g, ref.init(params), params)
>>> bool(jnp.allclose(u["w"], v["w"]))
True
"""

from __future__ import annotations

import jax.numpy as jnp
import optax

from symopt.compile.compiler import update_fn
from symopt.compile.transform import ProgramState, init_state, running, to_optax  # noqa: F401
from symopt.lang.model import Program


def to_optax_traced(program: Program, learning_rate,
                    constants) -> optax.GradientTransformationExtraArgs:
    """An optax optimizer running `program` with `constants` in place of its own.

    `learning_rate` is a number, a 0-d array or a schedule ``count -> lr`` (it may close
    over traced values too); `constants` a vector of ``len(program.constants())``.
    """
    consts = jnp.asarray(constants, jnp.float32).reshape(-1)
    return running(program, update_fn(program, traced_constants=True), learning_rate, consts)
