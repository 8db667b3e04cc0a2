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


def float_dtype(dtypes):
    """The widest floating dtype among `dtypes`, at least float32 (where steps are counted).

    >>> import jax.numpy as jnp
    >>> float_dtype([jnp.bfloat16, jnp.int32]), float_dtype([])
    (dtype('float32'), dtype('float32'))
    """
    out = jnp.dtype(jnp.float32)
    for dt in dtypes:
        if jnp.issubdtype(dt, jnp.floating):
            out = jnp.promote_types(out, dt)
    return out


def check_real(dtypes) -> None:
    """`UserError` for complex leaves: programs are defined over real numbers.

    (`square(g)` would be g·g where optax's moments use |g|²; rather than a
    silently different optimizer, complex parameters are refused.)
    """
    for dt in dtypes:
        if jnp.issubdtype(dt, jnp.complexfloating):
            raise UserError(f"complex parameters are not supported ({jnp.dtype(dt).name}): "
                            "symopt programs are defined over real numbers (square(g) would be "
                            "g*g, not |g|^2); optimize the real and imaginary parts as separate "
                            "real parameters")


def _scalar(x):
    """A number as a Python float; an array as a 0-d array of a floating dtype (kept)."""
    if isinstance(x, (int, float)):
        return float(x)
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)


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
    """Compile `program` to ``run(params, grads, state, lr, step, constants=None)``.

    ``run`` returns ``(update, new_state)``. `state` is a tuple of pytrees
    shaped like `grads`, one per state slot; `lr` is a number or 0-d array;
    `step` the 1-based step count (a number, or a 0-d array whose floating
    dtype is kept); `constants`, if given, replaces the program's constants
    (in ``program.constants()`` order): a list of numbers or 0-d arrays (the
    hyperparameters of `symopt.compile.to_optax`), or a vector. Only
    statements the outputs depend on run. Raises `ProgramError` if the program
    does not type-check, `UserError` for complex leaves (`check_real`).

    With ``traced_constants=True`` the constants must be given (a vector, as
    float32), so one compiled function serves every value of them (tuning,
    Population Based Training).

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
    named, const_names = _constants_as_names(program)
    ops = statement_ops(t, jnp, program=named)
    defaults = dict(zip(const_names, (float(c) for c in program.constants()), strict=True))
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
        check_real(x.dtype for x in g_leaves)
        if len(state) != n_state:
            raise UserError(f"state has {len(state)} slots, the program has {n_state}")
        env = dict(defaults)
        if constants is None and traced_constants:
            raise UserError("this update function takes the constants as an argument")
        if constants is not None:
            if not isinstance(constants, (list, tuple)):
                vec = jnp.asarray(constants, jnp.float32).reshape(-1)
                constants = [vec[i] for i in range(vec.shape[0])]
            if len(constants) != len(const_names):
                raise UserError(f"{len(constants)} constants given, "
                                f"the program has {len(const_names)}")
            env.update((n, _scalar(c)) for n, c in zip(const_names, constants, strict=True))
        env[g_name], env[w_name] = g_leaves, w_leaves
        for name, slot in zip(state_names, state, strict=True):
            env[name] = treedef.flatten_up_to(slot)
        env[lr_name] = _scalar(lr)
        if step_name is not None:
            env[step_name] = _scalar(step)
        for op in ops:
            op(env, dtypes)
        outs = []
        for r in returns:
            leaves = [x if x.dtype == dt else x.astype(dt)
                      for x, dt in zip(env[r], dtypes, strict=True)]
            outs.append(jax.tree_util.tree_unflatten(treedef, leaves))
        return outs[0], tuple(outs[1:])

    return run
