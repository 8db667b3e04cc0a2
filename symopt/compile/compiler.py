"""Program -> pure JAX update function over pytrees.

`update_fn(program)` analyses the program once (type check, dead code, kinds
of every value) and returns a closure
``run(params, grads, state, lr, step) -> (update, new_state)`` that works
eagerly and under `jax.jit`. `state` is a tuple with one pytree per state
slot; `step` is 1-based.

Values during a run:

- a `Scalar` is a Python float (constants, and `lr`/`step` when given as
  Python numbers) or a 0-d float32 array;
- a `LeafScalar` is a list of 0-d arrays, one per leaf;
- a `Tensor` is a list of arrays, one per leaf.

Python-float scalars stay Python floats through `+ - * /` and `interp`'s
`1 - a`, so constants are combined in double precision and enter array
arithmetic as weakly typed numbers, exactly as optax's own code does; this
makes `adam.prog` and `optax.adam` agree to float32 rounding. Array scalars
are cast to a leaf's dtype when combined with it (bfloat16 params give
bfloat16 state and updates).

>>> import jax.numpy as jnp
>>> from symopt.lang import parse
>>> run = update_fn(parse("def train(w, g, m, lr):\\n    m = m * 0.9 + g\\n    return m * lr, m"))
>>> upd, (m,) = run({"a": jnp.ones(2)}, {"a": jnp.ones(2)}, ({"a": jnp.ones(2)},), 0.5, 1)
>>> upd["a"].tolist(), m["a"].tolist()
([0.949999988079071, 0.949999988079071], [1.899999976158142, 1.899999976158142])
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import replace

import jax
import jax.numpy as jnp

from symopt.analysis.dead_code import live_mask
from symopt.errors import ProgramError, UserError
from symopt.lang.kinds import Kind
from symopt.lang.model import Program
from symopt.lang.registry import FUNCTIONS
from symopt.lang.typecheck import check, param_kinds

_S, _L, _T = Kind.SCALAR, Kind.LEAF_SCALAR, Kind.TENSOR

#: `+ - * /` and friends on two Python floats, in double precision (protected division).
_PY_SCALAR_OPS: dict[str, Callable] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": lambda x, y: 0.0 if y == 0 else x / y,
    "negative": operator.neg,
    "copy": lambda x: x,
}

UpdateFn = Callable[..., tuple]


def _cast(s, dtype):
    """A scalar made ready to combine with a leaf of `dtype` (Python floats stay weak)."""
    if s.__class__ is float or s.dtype == dtype:
        return s
    return s.astype(dtype)


def tree_arg_positions(fn) -> tuple[int, ...]:
    """The argument positions of a global function that take a whole tree."""
    return tuple(
        i for i in range(fn.arity)
        if any(k[i] != _S and r is not None for k, r in fn.kind_table.items())
    )


def _elementwise(fn, target, args, kinds, out_kind):
    impl = fn.impl
    py_op = _PY_SCALAR_OPS.get(fn.name)
    if out_kind == _S:
        def op(env, dtypes):
            vals = [env[a] if k is not None else a for a, k in zip(args, kinds, strict=True)]
            if py_op is not None and all(v.__class__ is float for v in vals):
                env[target] = py_op(*vals)
            else:
                env[target] = impl(*vals)
        return op

    def op(env, dtypes):
        cols = []
        for a, k in zip(args, kinds, strict=True):
            if k is None:
                cols.append([a] * len(dtypes))
            elif k == _S:
                s = env[a]
                cols.append([_cast(s, dt) for dt in dtypes])
            else:
                cols.append(env[a])
        env[target] = [impl(*xs) for xs in zip(*cols, strict=True)]
    return op


def _global(fn, target, args, kinds, out_kind):
    impl = fn.impl
    tree_pos = tree_arg_positions(fn)

    def op(env, dtypes):
        vals = []
        for i, (a, k) in enumerate(zip(args, kinds, strict=True)):
            v = env[a] if k is not None else a
            if i in tree_pos and (k is None or k == _S):
                v = [jnp.asarray(v, jnp.float32)]
            vals.append(v)
        out = impl(*vals)
        if out_kind == _S and isinstance(out, list):
            out = out[0]
        env[target] = out
    return op


def _compile_ops(program: Program, extra_kinds: dict[str, Kind] | None = None):
    """One closure per live statement, in order (`extra_kinds`: names bound at run time)."""
    kinds = dict(param_kinds(program))
    kinds.update(extra_kinds or {})
    ops = []
    for stmt, live in zip(program.body, live_mask(program), strict=True):
        fn = FUNCTIONS[stmt.fn]
        arg_kinds = [kinds[a] if a.__class__ is str else None for a in stmt.args]
        out_kind = fn.result_kind(tuple(_S if k is None else k for k in arg_kinds))
        kinds[stmt.target] = out_kind
        if not live:
            continue
        args = tuple(stmt.args)
        if fn.arity == 0:
            value = float(fn.impl())
            ops.append(lambda env, dtypes, t=stmt.target, v=value: env.__setitem__(t, v))
        elif fn.scope == "global":
            ops.append(_global(fn, stmt.target, args, arg_kinds, out_kind))
        else:
            ops.append(_elementwise(fn, stmt.target, args, arg_kinds, out_kind))
    return ops


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
    >>> from symopt.lang import parse_file
    >>> run = update_fn(parse_file("programs/sgd.prog"))
    >>> upd, state = run([jnp.zeros(2)], [jnp.array([1.0, -2.0])], (), 0.1, 1)
    >>> upd[0].tolist(), state
    ([0.10000000149011612, -0.20000000298023224], ())
    """
    problems = check(program)
    if problems:
        raise ProgramError(problems)
    const_names: tuple[str, ...] = ()
    if traced_constants:
        named, const_names = _constants_as_names(program)
        ops = _compile_ops(named, dict.fromkeys(const_names, _S))
    else:
        ops = _compile_ops(program)
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
