"""Python source for a program's update, built from the program model, for any array backend.

Every identifier in generated code is made here: program variables become
sanitized names ending in ``_`` (so none is a keyword, a builtin, a module
name or a helper), one per definition (SSA); hyperparameters get their names
from `symopt.compile.hyper` (``b1``, ``eps``, ...). Constants are written with
`repr`; no program text is pasted.

Generated code calls array functions through one namespace, ``_xp``: the
templates are the registry's (`symopt.lang.registry.Function.py`, written
against ``jnp``, the array API of `jax.numpy`), and a module binds ``_xp`` to
`jax.numpy` or to `TORCH_NAMESPACE`, a shim over `torch`; that shim and the helpers
generated code calls are in `symopt.compile.codegen_support`. Python builtins are
reached as ``_builtins.NAME`` and module-level names all start with ``_`` (or
are the modules themselves), so no user-chosen function name can shadow
anything generated code calls (`check_name` refuses the rest).

>>> from symopt.lang import parse
>>> f = leaf_function(parse("def train(w, g, os, lr):\\n    os = os * 0.9 + g\\n"
...                         "    return os * lr, os"), "f")
>>> print(f.source.splitlines()[0])
def f(w_, g_, os_, lr_, *, b1=0.9):
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from symopt.compile.codegen_support import HELPERS, helpers_of
from symopt.compile.compiler import tree_arg_positions
from symopt.compile.hyper import hyperparameters
from symopt.errors import ProgramError, UserError
from symopt.lang.dead_code import remove_dead
from symopt.lang.kinds import Kind
from symopt.lang.model import Program
from symopt.lang.registry import FUNCTIONS
from symopt.lang.typecheck import check, typed

#: Names every generated module defines or imports at module level (a function named so
#: would replace them).
_MODULE_NAMES = {"jax", "optax", "torch", "math", "ProgramState"}

_RESERVED_NAMES = {"jnp", "learning_rate", "dt"} | _MODULE_NAMES | set(HELPERS)


@dataclass(frozen=True)
class LeafFunction:
    """Generated source of ``def NAME(<params>, *, b1=..., ...)`` over single arrays."""

    source: str
    params: tuple[str, ...]  # identifiers of the program's parameters, in order
    hyperparameters: tuple[tuple[str, float], ...]  # (identifier, default value)
    helpers: tuple[str, ...]  # helper names the source calls
    uses_weights: bool
    has_global: bool


@dataclass(frozen=True)
class StagedUpdate:
    """The program's update over a whole parameter tree, as generated source.

    `functions` defines the stages, functions over single arrays; `tree_lines`
    are statements that, once the program's parameters (`params`, in order)
    are bound (tensors as lists of leaves, scalars as numbers or 0-d arrays,
    hyperparameters by name), run the stages and the global statements and
    leave ``outs``: one list of leaves per returned value, cast to the
    parameters' dtypes. The exporter of each backend binds the parameters.
    """

    functions: str
    tree_lines: tuple[str, ...]
    params: tuple[str, ...]  # identifiers of the program's parameters, in order
    hyperparameters: tuple[tuple[str, float], ...]  # (identifier, default value)
    helpers: tuple[str, ...]  # helper names the generated code calls
    uses_weights: bool
    n_stages: int


def check_name(name: str) -> str:
    """`name` if it can name a generated function or class; `UserError` otherwise.

    Builtins are fine (generated code calls them as ``_builtins.NAME``); names
    generated modules define or import at module level are not.

    >>> check_name("my_lion"), check_name("zip")
    ('my_lion', 'zip')
    """
    import keyword

    if (not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or keyword.iskeyword(name)
            or name in _RESERVED_NAMES or name.startswith("_")):
        raise UserError(f"--name {name!r} is not a usable Python name here (not a keyword, "
                        f"not starting with '_', none of {', '.join(sorted(_RESERVED_NAMES))})")
    return name


class _Names:
    """Fresh, safe identifiers for program variables: one per definition."""

    def __init__(self):
        self.taken: set[str] = set()
        self.current: dict[str, str] = {}

    def define(self, name: str) -> str:
        base = re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_").lower() or "v"
        if base[0].isdigit():
            base = "v" + base
        ident, k = f"{base}_", 1
        while ident in self.taken:
            k += 1
            ident = f"{base}_{k}_"
        self.taken.add(ident)
        self.current[name] = ident
        return ident


def _literal(value: float) -> str:
    if not math.isfinite(value):
        raise UserError(f"constant {value!r} cannot be exported")
    return repr(float(value))


@dataclass(frozen=True)
class _Stmt:
    """One live statement, with its identifiers resolved."""

    index: int
    target: str
    kind: Kind
    scope: str  # "scalar" (reads Scalars only), "leaf" (per leaf) or "global" (whole tree)
    texts: tuple[str, ...]  # argument texts: variables, hyperparameters or literals
    reads: tuple[str, ...]  # the variables among them
    expr: str  # over single arrays
    tree_expr: str  # over lists of leaves (global statements at tree level)


@dataclass(frozen=True)
class _Translation:
    """A type-checked program's live statements, in generated identifiers."""

    params: tuple[str, ...]
    kinds: dict[str, Kind]  # of every parameter and target
    order: dict[str, int]  # definition order of every parameter and target
    stmts: tuple[_Stmt, ...]
    hyper: tuple[tuple[str, float], ...]
    returns: tuple[str, ...]
    uses_weights: bool
    has_step: bool
    n_state: int

    @property
    def dtype_ref(self) -> str:
        """The parameter whose leaves give the dtypes (as the compiler does)."""
        return self.params[0] if self.uses_weights else self.params[1]


def _translate(program: Program) -> _Translation:
    """The live statements in generated identifiers; kinds from the type checker (`typed`)."""
    if typed(program) is None:
        raise ProgramError(check(program))
    program = remove_dead(program)
    typed_program = typed(program)
    if typed_program is None:  # never: dead code removal keeps a valid program valid
        raise ProgramError(check(program))
    hyper_of: dict[int, str] = {}
    defaults: dict[str, float] = {}
    for h in hyperparameters(program):
        defaults[h.name] = h.value
        hyper_of.update((k, h.name) for k in h.positions)
    names = _Names()
    params = tuple(names.define(p) for p in program.params)
    kinds = {names.current[p]: typed_program.params[p] for p in program.params}
    order = {ident: i - len(params) for i, ident in enumerate(params)}
    stmts = []
    k = -1
    for index, (stmt, out, arg_kinds) in enumerate(zip(
            program.body, typed_program.kinds, typed_program.arg_kinds, strict=True)):
        fn = FUNCTIONS[stmt.fn]
        texts, reads = [], []
        for a in stmt.args:
            if isinstance(a, str):
                ident = names.current[a]
                reads.append(ident)
            else:
                k += 1
                ident = hyper_of.get(k) or _literal(float(a))  # a fixed constant: a literal
            texts.append(ident)
        if fn.arity == 0:
            expr = tree_expr = _literal(fn.constant())
        else:
            expr = tree_expr = _template(fn).format(*texts)
        if fn.scope == "global":
            # a Scalar where a tree goes is a one-leaf float32 tree, as in the compiler
            tree_pos = tree_arg_positions(fn)
            tree_expr = _template(fn).format(*(
                f"[_xp.asarray({t}, _xp.float32)]" if i in tree_pos and kd == Kind.SCALAR else t
                for i, (t, kd) in enumerate(zip(texts, arg_kinds, strict=True))))
        scope = ("global" if fn.scope == "global"
                 else "scalar" if out == Kind.SCALAR else "leaf")
        target = names.define(stmt.target)
        kinds[target] = out
        order[target] = index
        stmts.append(_Stmt(index=index, target=target, kind=out, scope=scope,
                           texts=tuple(texts), reads=tuple(reads), expr=expr,
                           tree_expr=tree_expr))
    uses_weights = any(program.params[0] in s.uses() for s in program.body) or (
        program.params[0] in program.returns)
    return _Translation(params=params, kinds=kinds, order=order, stmts=tuple(stmts),
                        hyper=tuple(defaults.items()),
                        returns=tuple(names.current[r] for r in program.returns),
                        uses_weights=uses_weights, has_step=program.has_step,
                        n_state=program.n_state)


def _template(fn) -> str:
    """The registry's Python template of `fn`, over the ``_xp`` namespace."""
    return fn.py.replace("jnp.", "_xp.")



@dataclass(frozen=True)
class _Function:
    source: str
    params: tuple[str, ...]
    hyper: tuple[str, ...]
    helpers: frozenset[str]


def _function(name: str, tr: _Translation, stmts, outs, *, final: bool,
              inputs=None) -> _Function:
    """``def NAME(<tree inputs>, <scalar inputs>, *, <hyperparameters>)`` over single arrays.

    It runs `stmts` (in order) and returns `outs`, cast to the parameters'
    dtype if `final`. Its inputs are what the statements read and do not define
    (or the given `inputs`): arrays first, then scalars. Statements that read
    scalars only run first, as they are (Python numbers stay Python numbers,
    arrays keep their dtype). An array statement that reads a scalar combines
    it uncast and casts its result to the parameters' dtype ``dt``: a float32
    hyperparameter meeting bfloat16 leaves computes ``1 - b2`` in float32.
    """
    defined = {s.target for s in stmts}
    if inputs is None:
        inputs = {r for s in stmts for r in s.reads if r not in defined}
        inputs |= {o for o in outs if o not in defined}
    hyper_names = {h for h, _ in tr.hyper}
    scalar_idents = {i for i in inputs if tr.kinds[i] == Kind.SCALAR} | hyper_names
    scalar_lines, tensor_lines = [], []
    used_hyper: set[str] = set()
    need_dt = final
    for s in stmts:
        used_hyper.update(t for t in s.texts if t in hyper_names)
        if s.kind == Kind.SCALAR and all(r in scalar_idents for r in s.reads):
            scalar_lines.append(f"{s.target} = {s.expr}")
            scalar_idents.add(s.target)
        elif any(t in scalar_idents for t in s.texts):
            need_dt = True
            tensor_lines.append(f"{s.target} = _xp.astype({s.expr}, dt)")
        else:
            tensor_lines.append(f"{s.target} = {s.expr}")
    if need_dt:
        inputs = set(inputs) | {tr.dtype_ref}
    params = tuple(sorted(inputs, key=lambda i: (tr.kinds[i] == Kind.SCALAR, tr.order[i])))
    hyper = tuple(h for h, _ in tr.hyper if h in used_hyper)
    defaults = dict(tr.hyper)
    hp = "".join(f", {h}={defaults[h]!r}" for h in hyper)
    head = f"def {name}({', '.join(params)}{', *' + hp if hyper else ''}):"
    body = list(scalar_lines)
    if need_dt:
        body.append(f"dt = {tr.dtype_ref}.dtype")
    body.extend(tensor_lines)
    trailing = "," if len(outs) == 1 else ""  # always return a tuple
    body.append("return " + ", ".join(f"_xp.astype({o}, dt)" if final else o for o in outs)
                + trailing)
    source = "\n".join([head] + [f"    {line}" for line in body]) + "\n"
    helpers = helpers_of(body)
    return _Function(source=source, params=params, hyper=hyper, helpers=frozenset(helpers))


def leaf_function(program: Program, name: str) -> LeafFunction:
    """The program's live update as one function over single arrays (see module doc).

    Global functions (`global_norm`, ...) see the one array they are given.
    """
    tr = _translate(program)
    f = _function(name, tr, tr.stmts, tr.returns, final=True, inputs=set(tr.params))
    return LeafFunction(source=f.source, params=f.params, hyperparameters=tr.hyper,
                        helpers=tuple(sorted(f.helpers)), uses_weights=tr.uses_weights,
                        has_global=any(s.scope == "global" for s in tr.stmts))


def _scalar_closure(tr: _Translation, idents, have) -> list[_Stmt]:
    """The scalar statements (in order) that compute `idents` from what is in `have`."""
    by_target = {s.target: s for s in tr.stmts if s.scope == "scalar"}
    need: set[str] = set()
    todo = list(idents)
    while todo:
        i = todo.pop()
        if i in by_target and i not in need and i not in have:
            need.add(i)
            todo.extend(by_target[i].reads)
    return sorted((by_target[i] for i in need), key=lambda s: s.index)


def staged_update(program: Program, prefix: str = "_update_leaf",
                  leaf_steps: str | None = None) -> StagedUpdate:
    """The program's update over a parameter tree, in stages (see `StagedUpdate`).

    A stage is a maximal run of consecutive per-leaf statements: one function
    over single arrays, mapped over the leaves. Each global statement
    (`global_norm`, `clip_by_global_norm`) runs between stages on lists of
    leaves, i.e. over the whole tree at once. Statements that read scalars only
    run where their value is read: in a stage, or at tree level before a global
    statement. Values between stages are lists of leaves (`Tensor`,
    `LeafScalar`) or scalars (`Scalar`). A program without global functions is
    one stage, named `prefix`; otherwise stages are ``prefix_1``, ``prefix_2``, ...
    The last stage returns the program's outputs, cast to the parameters' dtypes.

    With `leaf_steps` (the name of a list of numbers, one per leaf), each leaf's stage
    call gets its own `step` from that list, as torch keeps one step count per
    parameter; global statements at tree level read the `step` parameter as bound.

    >>> from symopt.lang import parse
    >>> st = staged_update(parse("def train(w, g, lr):\\n"
    ...                          "    return g / global_norm(g) * lr"))
    >>> st.params
    ('w_', 'g_', 'lr_')
    >>> print("\\n".join(st.tree_lines))
    t1_ = _global_norm(g_)
    outs = _unzip([
        _update_leaf(*xs, lr_, t1_)
        for xs in _builtins.zip(g_)
    ], 1)
    """
    tr = _translate(program)
    segments: list[tuple[str, list[_Stmt]]] = []
    run: list[_Stmt] = []
    for s in tr.stmts:
        if s.scope == "leaf":
            run.append(s)
        elif s.scope == "global":
            if run:
                segments.append(("stage", run))
                run = []
            segments.append(("global", [s]))
    segments.append(("stage", run))  # the last stage returns the outputs, even if empty
    n_stages = sum(kind == "stage" for kind, _ in segments)

    lines: list[str] = []
    sources, helpers, have = [], {"_unzip"}, set(tr.params)
    k = 0
    for kind, stmts in segments:
        if kind == "global":
            s = stmts[0]
            for c in _scalar_closure(tr, s.reads, have):
                lines.append(f"{c.target} = {c.expr}")
                helpers |= helpers_of([c.expr])
                have.add(c.target)
            lines.append(f"{s.target} = {s.tree_expr}")
            helpers |= helpers_of([s.tree_expr])
            have.add(s.target)
            continue
        k += 1
        final = k == n_stages
        own = {s.target for s in stmts}
        body = sorted(stmts + _scalar_closure(tr, {r for s in stmts for r in s.reads}, own),
                      key=lambda s: s.index)
        if final:
            outs = tr.returns
        else:
            later = {r for s in tr.stmts if s.index > stmts[-1].index for r in s.reads}
            outs = tuple(s.target for s in stmts if s.target in later | set(tr.returns))
        name = prefix if n_stages == 1 else f"{prefix}_{k}"
        f = _function(name, tr, body, outs, final=final)
        sources.append(f.source)
        helpers |= f.helpers
        trees = [p for p in f.params if tr.kinds[p] != Kind.SCALAR]
        scalars = "".join(f", {p}" for p in f.params if tr.kinds[p] == Kind.SCALAR)
        target = "xs"
        if leaf_steps is not None and tr.has_step and tr.params[-1] in f.params:
            # the comprehension's own `step`, one per leaf, shadows the group's
            target, trees = f"*xs, {tr.params[-1]}", [*trees, leaf_steps]
        hyper = "".join(f", {h}={h}" for h in f.hyper)
        assigned = "outs" if final else ", ".join(outs) + ("," if len(outs) == 1 else "")
        lines += [f"{assigned} = _unzip([",
                  f"    {name}(*xs{scalars}{hyper})",
                  f"    for {target} in _builtins.zip({', '.join(trees)})",
                  f"], {len(outs)})"]
        if not final:
            have.update(outs)
    return StagedUpdate(functions="\n\n".join(sources), tree_lines=tuple(lines),
                        params=tr.params, hyperparameters=tr.hyper, helpers=tuple(sorted(helpers)),
                        uses_weights=tr.uses_weights, n_stages=n_stages)
