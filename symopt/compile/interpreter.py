"""The compile-once engine: a program as data, run by one compiled interpreter.

:func:`encode` turns a program into arrays: an operation code and three argument
registers per live statement, the constants, the registers returned, all padded to a
:class:`SizeClass`. :func:`interpreted_tx` builds an optax-style optimizer that runs
*any* encoded program of one size class: inside ``jit`` the program is a traced
value, so a new program, a changed constant or another learning-rate multiplier
reuses the same compiled code (one compile per task and size class).

Registers, numbered once per program (SSA: every live statement writes a fresh one):
``w, g, state slots, lr, step, constants (padded), statements (padded)``. The register
file is scratch: each update builds it from the parameters, gradients, state slots and
constants, runs the statements and keeps only the new slots (`InterpState`).
Each register holds its value in three representations: a ``Scalar`` (0-d float32),
a ``LeafScalar`` (one float32 per parameter leaf) and a ``Tensor`` (the parameters
flattened into one vector per dtype, so bfloat16 parameters keep bfloat16 state).
A value of kind K is written in the representations of kind K and above (broadcast),
so an operation reads each argument directly in the representation of its own kind.
Each statement is one ``lax.switch`` over (function, kind) branches inside a
``fori_loop``; the branches call the registry's implementations.

>>> import jax.numpy as jnp
>>> from symopt import programs
>>> prog = encode(programs.load("momentum"))
>>> prog.size
SizeClass(statements=16, slots=1)
>>> tx = interpreted_tx(lambda count: 0.1, prog)
>>> params = {"w": jnp.array([1.0, 2.0])}
>>> upd, state = tx.update({"w": jnp.array([1.0, 1.0])}, tx.init(params), params)
>>> [round(x, 6) for x in upd["w"].tolist()]
[-0.1, -0.1]
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from symopt.errors import ProgramError
from symopt.lang.dead_code import remove_dead
from symopt.lang.kinds import Kind
from symopt.lang.model import Program
from symopt.lang.registry import FUNCTIONS, IDENTITY, Function
from symopt.lang.typecheck import check, typed

_S, _L, _T = Kind.SCALAR, Kind.LEAF_SCALAR, Kind.TENSOR
_F32 = jnp.float32


def impl_of(fn: Function):
    """The JAX implementation of a registry entry (the one place the engine asks for it)."""
    return functools.partial(fn.impl, jnp)


def _variants(fn: Function) -> tuple[Kind, ...]:
    # Scalars and LeafScalars share a branch (a Scalar's LeafScalar form is the scalar,
    # broadcast), except for global functions, which reduce over leaves.
    return (_S, _L, _T) if fn.scope == "global" else (_L, _T)


#: One branch per (function, kind it works on); nullary functions are constants.
OPS: tuple[tuple[str, Kind], ...] = tuple(
    (name, k) for name, fn in FUNCTIONS.items() if fn.arity > 0 for k in _variants(fn)
)
_OP_INDEX = {op: i for i, op in enumerate(OPS)}


#: The smallest statement class. Each class is one compile (per task and process) of the
#: same interpreter, only its register file differs, so few large classes beat many small
#: ones: the classic optimizers and most children of a search fit the smallest, and padding
#: costs a few unused registers, not steps. State slots are not padded: the optimizer state
#: holds exactly the program's slots (a class per slot count, 0-2 for AdamW's children).
MIN_STATEMENTS = 16


@dataclass(frozen=True)
class SizeClass:
    """Padding of an encoded program: statement (and constant) registers; state slots."""

    statements: int
    slots: int

    @staticmethod
    def of(n_statements: int, n_constants: int, n_slots: int) -> SizeClass:
        """The smallest class that fits: a power of two, at least `MIN_STATEMENTS`,
        statements, and exactly `n_slots` slots (the state holds no padding).

        >>> SizeClass.of(9, 3, 1), SizeClass.of(20, 3, 5)
        (SizeClass(statements=16, slots=1), SizeClass(statements=32, slots=5))
        """
        return SizeClass(_pow2(max(n_statements, n_constants, MIN_STATEMENTS)), n_slots)

    @property
    def registers(self) -> int:
        return 4 + self.slots + 2 * self.statements

    @property
    def lr(self) -> int:
        return 2 + self.slots

    @property
    def constants(self) -> int:
        return 4 + self.slots

    @property
    def body(self) -> int:
        return 4 + self.slots + self.statements


def _pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


class Encoded(NamedTuple):
    """A program as arrays (a pytree; `size` and `n_state` are static)."""

    ops: np.ndarray  # int32 (statements,)
    args: np.ndarray  # int32 (statements, 3): registers read
    constants: np.ndarray  # float32 (statements,)
    n: np.ndarray  # int32 (): live statements
    returns: np.ndarray  # int32 (1 + slots,): update, then each new state slot
    size: SizeClass
    n_state: int

    def arrays(self) -> tuple:
        """The traced part: what changes from program to program within a size class."""
        return (self.ops, self.args, self.constants, self.n, self.returns)


def encode(program: Program, size: SizeClass | None = None) -> Encoded:
    """Encode the live part of `program` (`ProgramError` if it does not type-check).

    >>> from symopt import programs
    >>> e = encode(programs.load("adam"))
    >>> int(e.n), e.n_state, [round(c, 6) for c in e.constants[:3].tolist()]
    (13, 2, [0.9, 0.999, 0.9])
    """
    problems = check(program)
    if problems:
        raise ProgramError(problems)
    live = remove_dead(program)
    types = typed(live)
    assert types is not None  # dead-code removal keeps a valid program valid
    n_const = sum(1 for s in live.body for a in s.args if a.__class__ is not str) + sum(
        1 for s in live.body if FUNCTIONS[s.fn].arity == 0)
    size = size or SizeClass.of(len(live.body), n_const, live.n_state)
    if len(live.body) > size.statements or n_const > size.statements or (
            live.n_state > size.slots):
        raise ValueError(f"program does not fit {size}")
    reg = {live.params[0]: 0, live.params[1]: 1, live.lr_name: size.lr}
    reg.update({name: 2 + i for i, name in enumerate(live.state_names)})
    if live.has_step:
        reg["step"] = size.lr + 1
    ops = np.zeros(size.statements, np.int32)
    args = np.zeros((size.statements, 3), np.int32)
    consts = np.zeros(size.statements, np.float32)
    c = 0
    for i, (stmt, arg_kinds) in enumerate(zip(live.body, types.arg_kinds, strict=True)):
        fn = FUNCTIONS[stmt.fn]
        for j, a in enumerate(stmt.args):
            if a.__class__ is str:
                args[i, j] = reg[a]
            else:
                consts[c] = a
                args[i, j] = size.constants + c
                c += 1
        if fn.arity == 0:  # a nullary function is a constant
            consts[c] = fn.constant()
            args[i, 0] = size.constants + c
            c += 1
            fn, arg_kinds = FUNCTIONS[IDENTITY], (_S,)
        variant = max(arg_kinds) if fn.scope != "global" else arg_kinds[0]
        if variant == _S and fn.scope != "global":
            variant = _L
        ops[i] = _OP_INDEX[(fn.name, variant)]
        reg[stmt.target] = size.body + i
    returns = np.array([reg[live.returns[0]]] + [reg[r] for r in live.returns[1:]]
                       + [2 + k for k in range(live.n_state, size.slots)], np.int32)
    return Encoded(ops, args, consts, np.asarray(len(live.body), np.int32), returns, size,
                   live.n_state)


class _Layout:
    """How a parameter tree maps to one flat vector per dtype (static shapes)."""

    def __init__(self, tree: Any):
        leaves, self.treedef = jax.tree_util.tree_flatten(tree)
        self.shapes = [tuple(x.shape) for x in leaves]
        self.dtypes = list(dict.fromkeys(jnp.dtype(x.dtype) for x in leaves))
        self.where = []  # per leaf: (group, start, size)
        sizes = [0] * len(self.dtypes)
        self.group_leaves: list[list[int]] = [[] for _ in self.dtypes]
        for i, x in enumerate(leaves):
            gi = self.dtypes.index(jnp.dtype(x.dtype))
            n = int(np.prod(x.shape, dtype=np.int64))
            self.where.append((gi, sizes[gi], n))
            self.group_leaves[gi].append(i)
            sizes[gi] += n
        self.sizes = sizes
        self.n_leaves = len(leaves)
        # Registers hold low-precision floats as float32, rounded to the parameters' dtype
        # after every Tensor operation: constants and scalars stay exact, as in the
        # compiled path (where they are weakly typed Python floats), state stays bfloat16.
        self.cdtypes = [jnp.dtype(_F32) if jnp.issubdtype(dt, jnp.floating)
                        and jnp.finfo(dt).bits < 32 else dt for dt in self.dtypes]

    def flatten(self, tree: Any) -> tuple:
        leaves = self.treedef.flatten_up_to(tree)
        return tuple(
            jnp.concatenate([jnp.ravel(leaves[i]).astype(dt) for i in idx])
            for dt, idx in zip(self.cdtypes, self.group_leaves, strict=True))

    def unflatten(self, flats: tuple) -> Any:
        return self.treedef.unflatten(
            [jax.lax.slice_in_dim(flats[g], s, s + n).reshape(shape).astype(self.dtypes[g])
             for (g, s, n), shape in zip(self.where, self.shapes, strict=True)])

    def leaves(self, flats: tuple) -> list:
        return [jax.lax.slice_in_dim(flats[g], s, s + n) for g, s, n in self.where]

    def from_leaves(self, leaves: list) -> tuple:
        return tuple(jnp.concatenate([leaves[i].astype(dt) for i in idx])
                     for dt, idx in zip(self.cdtypes, self.group_leaves, strict=True))

    def leaf_to_tensor(self, ls) -> tuple:
        # a concatenation of broadcasts (not jnp.repeat, whose index arithmetic XLA
        # constant-folds for seconds at every compile)
        return tuple(
            jnp.concatenate([jnp.broadcast_to(ls[i].astype(dt), (self.where[i][2],))
                             for i in idx])
            for dt, idx in zip(self.cdtypes, self.group_leaves, strict=True))


def _is_big(fn: Function, k: Kind) -> bool:
    """Whether the branch returns a Tensor (else a Scalar or LeafScalar): the registry's
    kind rule for a first argument of kind `k` (and Scalars after it) says."""
    return fn.result_kind((k,) + (_S,) * (fn.arity - 1)) == _T


_BIG = np.array([_is_big(FUNCTIONS[n], k) for n, k in OPS])
_SUB_INDEX = np.array([int(np.sum(_BIG[:i] == _BIG[i])) for i in range(len(OPS))], np.int32)


def _branches(lay: _Layout) -> tuple[list, list]:
    """Branches returning a LeafScalar form (Scalars broadcast) and those returning Tensors."""
    nl = lay.n_leaves

    def small_l(r):
        return jnp.broadcast_to(jnp.asarray(r, _F32), (nl,))

    def make(fn: Function, k: Kind):
        impl, ar = impl_of(fn), fn.arity
        if fn.scope == "elementwise":
            if k == _L:
                return lambda s, l_, t: small_l(impl(*l_[:ar]))
            return lambda s, l_, t: tuple(
                impl(*(t[j][gi] for j in range(ar))) for gi in range(len(lay.dtypes)))
        if fn.scope == "leaf":
            if k == _L:
                return lambda s, l_, t: small_l(jax.vmap(impl)(*l_[:ar]))
            return lambda s, l_, t: jnp.stack([
                impl(*xs).astype(_F32)
                for xs in zip(*(lay.leaves(t[j]) for j in range(ar)), strict=True)])

        def tree(s, l_, t):  # global: argument 0 is a tree, the others Scalars
            if k == _S:
                return [s[0]]
            if k == _L:
                return [l_[0][i] for i in range(nl)]
            return lay.leaves(t[0])

        def run(s, l_, t):
            out = impl(tree(s, l_, t), *s[1:ar])
            if not isinstance(out, list):
                return small_l(out)
            if k == _S:
                return small_l(out[0])
            if k == _L:
                return jnp.stack(out).astype(_F32)
            return lay.from_leaves(out)
        return run

    made = [make(FUNCTIONS[name], k) for name, k in OPS]
    return ([f for f, big in zip(made, _BIG, strict=True) if not big],
            [f for f, big in zip(made, _BIG, strict=True) if big])


#: How many interpreted optimizers were built; inside ``jit`` that is once per trace, so
#: tests count compilations with it.
TRACES = 0


class InterpState(NamedTuple):
    """Optimizer state: steps taken and the state slots, nothing else (the register file
    is scratch, built and dropped inside one update), so a batch member holds what its
    program needs: AdamW 2 values per parameter, Lion 1."""

    count: jax.Array
    slots: tuple  # per dtype of the parameters: (slots, n), in that dtype


def interpreted_tx(learning_rate, prog: Encoded | tuple,
                   size: SizeClass | None = None) -> optax.GradientTransformation:
    """An optax optimizer that interprets `prog` (an `Encoded` or its traced `arrays()`).

    `learning_rate` is a number or a schedule ``count -> lr``. Pass `size` when `prog` is
    only the arrays (inside a compiled function that serves a whole size class).
    """
    global TRACES
    TRACES += 1
    if isinstance(prog, Encoded):
        size, arrays = prog.size, prog.arrays()
    else:
        arrays = prog
        if size is None:
            raise TypeError("interpreted_tx: pass `size` with a program's arrays")
    ops, args, consts, n_live, returns = (jnp.asarray(a) for a in arrays)
    sz: SizeClass = size

    def init(params):
        lay = _Layout(params)
        slots = tuple(jnp.zeros((sz.slots, n), dt)
                      for dt, n in zip(lay.dtypes, lay.sizes, strict=True))
        return InterpState(jnp.zeros([], jnp.int32), slots)

    def update(grads, state, params=None):
        lay = _Layout(grads)
        small_branches, big_branches = _branches(lay)
        count = state.count
        lr = learning_rate(count) if callable(learning_rate) else learning_rate
        lr = jnp.asarray(lr, _F32)
        step = (count + 1).astype(_F32)
        w = lay.flatten(grads if params is None else params)
        g = lay.flatten(grads)
        # The register file, rows as in `SizeClass`: w, g, slots, lr, step, constants,
        # statements (written by the loop below; every read follows its write, SSA).
        scal = jnp.stack([lr, step])
        sf = jnp.concatenate([jnp.zeros((2 + sz.slots,), _F32), scal, consts,
                              jnp.zeros((sz.statements,), _F32)])
        lf = jnp.broadcast_to(sf[:, None], (sz.registers, lay.n_leaves))
        tf = tuple(
            jnp.concatenate([wi[None], gi[None], sl.astype(dt),
                             jnp.broadcast_to(sf[sz.lr:sz.body, None].astype(dt),
                                              (sz.body - sz.lr, n)),
                             jnp.zeros((sz.statements, n), dt)])
            for wi, gi, sl, dt, n in zip(w, g, state.slots, lay.cdtypes, lay.sizes,
                                         strict=True))

        def body(i, files):
            sf, lf, tf = files
            a = args[i]
            s = tuple(sf[a[j]] for j in range(3))
            l_ = tuple(lf[a[j]] for j in range(3))
            t = tuple(tuple(x[a[j]] for x in tf) for j in range(3))
            op = ops[i]
            sub = jnp.asarray(_SUB_INDEX)[op]

            def small():
                r = jax.lax.switch(sub, small_branches, s, l_, t)
                return r[0], r, lay.leaf_to_tensor(r)

            def big():
                out = jax.lax.switch(sub, big_branches, s, l_, t)
                return (jnp.zeros((), _F32), jnp.zeros((lay.n_leaves,), _F32),
                        tuple(x.astype(dt).astype(cdt) for x, dt, cdt
                              in zip(out, lay.dtypes, lay.cdtypes, strict=True)))

            rs, rl, rt = jax.lax.cond(jnp.asarray(_BIG)[op], big, small)
            r = sz.body + i
            return (sf.at[r].set(rs), lf.at[r].set(rl),
                    tuple(x.at[r].set(v) for x, v in zip(tf, rt, strict=True)))

        sf, lf, tf = jax.lax.fori_loop(0, n_live, body, (sf, lf, tf))
        upd = lay.unflatten(tuple(-x[returns[0]] for x in tf))
        slots = tuple(x[returns[1:]].astype(dt) for x, dt in zip(tf, lay.dtypes, strict=True))
        next_count = jnp.where(count < jnp.iinfo(jnp.int32).max, count + 1, count)
        return upd, InterpState(next_count, slots)

    return optax.GradientTransformation(init, update)

