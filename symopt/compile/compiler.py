"""Program -> pure JAX update function over pytrees.

`update_fn(program)` analyses the program once (type check, dead code, kinds
of every value) and returns a closure
``run(params, grads, state, lr, step) -> (update, new_state)`` that works
eagerly and under `jax.jit`. `state` is a tuple with one pytree per state
slot; `step` is 1-based.

The statements themselves run through `symopt.lang.semantics` (the registry's
implementations with ``xp = jax.numpy``), which says how Scalars, LeafScalars and
Tensors are represented and how Python-float constants combine.

>>> import jax.numpy as jnp
>>> from symopt.lang import parse
>>> run = update_fn(parse("def train(w, g, m, lr):\\n    m = m * 0.9 + g\\n    return m * lr, m"))
>>> upd, (m,) = run({"a": jnp.ones(2)}, {"a": jnp.ones(2)}, ({"a": jnp.ones(2)},), 0.5, 1)
>>> upd["a"].tolist(), m["a"].tolist()
([0.949999988079071, 0.949999988079071], [1.899999976158142, 1.899999976158142])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import jax
import jax.numpy as jnp

from symopt.errors import ProgramError, UserError
from symopt.lang.dead_code import live_mask
from symopt.lang.model import Program
from symopt.lang.semantics import statement_ops
from symopt.lang.semantics import tree_arg_positions as tree_arg_positions
from symopt.lang.typecheck import check, typed

UpdateFn = Callable[..., tuple]


def _constants_as_names(program: Program) -> tuple[Program, tuple[str, ...]]:
    """`program` with its i-th constant replaced by the name ``#i`` (never a parsed name)."""
    names: list[str] = []
    body = []
    for s in program.body:
        args = []
        for a in s.args:
            if a.__class__ is str:
                args.append(a)
            else:
                names.append(f"#{len(names)}")
                args.append(names[-1])
        body.append(replace(s, args=tuple(args)))
    return program.replace(body=tuple(body)), tuple(names)


def update_fn(program: Program, *, traced_constants: bool = False) -> UpdateFn:
    """Compile `program` to ``run(params, grads, state, lr, step) -> (update, new_state)``.

    `state` is a tuple of pytrees shaped like `grads`, one per state slot; `lr`
    is a number or 0-d array; `step` the 1-based step count. Only statements the
    outputs depend on run. Raises `ProgramError` if the program does not type-check.

    With ``traced_constants=True`` the program's constants are not baked in: ``run``
    takes them as a sixth argument, a vector in ``program.constants()`` order, so one
    compiled function serves every value of them (tuning, Population Based Training).

    >>> import jax.numpy as jnp
    >>> from symopt.lang import parse
    >>> p = parse("def train(w, g, lr):\\n    return g * (lr * 0.5)")
    >>> run = update_fn(p, traced_constants=True)
    >>> run(None, [jnp.ones(1)], (), 1.0, 1, jnp.array([0.25]))[0][0].tolist()
    [0.25]

    >>> import jax.numpy as jnp
    >>> from symopt import programs
    >>> run = update_fn(programs.load("sgd"))
    >>> upd, state = run([jnp.zeros(2)], [jnp.array([1.0, -2.0])], (), 0.1, 1)
    >>> upd[0].tolist(), state
    ([0.10000000149011612, -0.20000000298023224], ())
    """
    t = typed(program)
    if t is None:
        raise ProgramError(check(program))
    const_names: tuple[str, ...] = ()
    if traced_constants:
        named, const_names = _constants_as_names(program)
        ops = statement_ops(t, jnp, program=named)
    else:
        ops = statement_ops(t, jnp)
    p = program.params
    w_name, g_name = p[0], p[1]
    state_names = program.state_names
    lr_name = program.lr_name
    step_name = "step" if program.has_step else None
    n_state = len(state_names)
    returns = program.returns
    live_reads = {a for s, live in zip(program.body, live_mask(program), strict=True) if live
                  for a in s.uses()} | set(returns)
    needs_w = w_name in live_reads

    def run(params, grads, state, lr, step, constants=None):
        g_leaves, treedef = jax.tree_util.tree_flatten(grads)
        if needs_w:
            if params is None:
                raise UserError(f"this program reads the weights '{w_name}': "
                                "pass params to update()")
            w_leaves = treedef.flatten_up_to(params)
            dtypes = [x.dtype for x in w_leaves]
        else:
            w_leaves = None
            dtypes = [x.dtype for x in g_leaves]
        if len(state) != n_state:
            raise UserError(f"state has {len(state)} slots, the program has {n_state}")
        env = {g_name: g_leaves, w_name: w_leaves}
        for name, slot in zip(state_names, state, strict=True):
            env[name] = treedef.flatten_up_to(slot)
        env[lr_name] = float(lr) if isinstance(lr, (int, float)) else jnp.asarray(lr, jnp.float32)
        if step_name is not None:
            env[step_name] = (float(step) if isinstance(step, int)
                              else jnp.asarray(step, jnp.float32))
        if const_names:
            if constants is None:
                raise UserError("this update function takes the constants as an argument")
            consts = jnp.asarray(constants, jnp.float32)
            env.update((n, consts[i]) for i, n in enumerate(const_names))
        for op in ops:
            op(env, dtypes)
        outs = []
        for r in returns:
            leaves = [x if x.dtype == dt else x.astype(dt)
                      for x, dt in zip(env[r], dtypes, strict=True)]
            outs.append(jax.tree_util.tree_unflatten(treedef, leaves))
        return outs[0], tuple(outs[1:])

    return run
