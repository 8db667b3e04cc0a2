"""Python source for a program's update on one parameter tensor, built from the model.

Every identifier in generated code is made here: program variables become
sanitized names ending in ``_`` (so none is a keyword, a builtin, a module
name or a helper), one per definition (SSA), hyperparameters are ``c1 ...
cN``. Constants are written with `repr`; no program text is pasted.

>>> from symopt.lang import parse
>>> f = leaf_function(parse("def train(w, g, os, lr):\\n    os = os * 0.9 + g\\n"
...                         "    return os * lr, os"), "f")
>>> print(f.source.splitlines()[0])
def f(w_, g_, os_, lr_, *, c1=0.9):
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from symopt.analysis.dead_code import remove_dead
from symopt.errors import ProgramError, UserError
from symopt.lang.kinds import Kind
from symopt.lang.model import Program
from symopt.lang.registry import FUNCTIONS
from symopt.lang.typecheck import check, param_kinds

#: Helper functions a generated module may need, by the name templates call them.
HELPERS = {
    "_div": '''
def _div(x, y):
    """x / y, and 0 where y == 0 (protected division)."""
    if isinstance(x, (int, float)) and isinstance(y, (int, float)):
        return x / y if y != 0 else 0.0
    zero = y == 0
    return jnp.where(zero, jnp.zeros_like(x * y), x / jnp.where(zero, jnp.ones_like(y), y))
''',
    "_cosine_sim": '''
def _cosine_sim(x, y):
    """Cosine similarity of two tensors (epsilon 1e-8 in the denominator)."""
    norm = lambda a: jnp.sqrt(jnp.sum(jnp.square(a)))
    return jnp.sum(x * y) / (norm(x) * norm(y) + 1e-08)
''',
    "_global_norm": '''
def _global_norm(tree):
    """L2 norm over every leaf of a pytree."""
    return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in jax.tree_util.tree_leaves(tree)))
''',
    "_clip_by_global_norm": '''
def _clip_by_global_norm(tree, c):
    """`tree` scaled so that its global norm is at most |c|."""
    scale = jnp.minimum(1.0, _div(jnp.abs(c), _global_norm(tree)))
    return jax.tree_util.tree_map(lambda x: x * scale.astype(jnp.result_type(x)), tree)
''',
    "_cast": '''
def _cast(x, dtype):
    """A scalar made ready to combine with a tensor of `dtype` (Python numbers stay weak)."""
    if isinstance(x, (int, float)):
        return x
    return jnp.asarray(x).astype(dtype)
''',
}
_HELPER_DEPS = {"_clip_by_global_norm": ("_div", "_global_norm")}

_RESERVED_NAMES = {"jax", "jnp", "optax", "learning_rate", "dt"} | set(HELPERS)


@dataclass(frozen=True)
class LeafFunction:
    """Generated source of ``def NAME(<params>, *, c1=..., ...)`` over single arrays."""

    source: str
    params: tuple[str, ...]  # identifiers of the program's parameters, in order
    hyperparameters: tuple[tuple[str, float], ...]  # (identifier, default value)
    helpers: tuple[str, ...]  # helper names the source calls
    uses_weights: bool
    has_global: bool


def check_name(name: str) -> str:
    """`name` if it can name a generated function; `UserError` otherwise.

    >>> check_name("my_lion")
    'my_lion'
    """
    import keyword

    if (not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or keyword.iskeyword(name)
            or name in _RESERVED_NAMES or name.startswith("_")):
        raise UserError(f"--name {name!r} is not a usable Python function name")
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


def leaf_function(program: Program, name: str) -> LeafFunction:
    """The program's live update as a function over single arrays (see module doc)."""
    problems = check(program)
    if problems:
        raise ProgramError(problems)
    program = remove_dead(program)
    names = _Names()
    params = tuple(names.define(p) for p in program.params)
    kinds = dict(param_kinds(program))
    scalar_lines, tensor_lines, helpers = [], [], {"_cast"}
    hyper: list[tuple[str, float]] = []
    has_global = False
    cast_needed: list[str] = []
    scalar_idents = {names.current[p] for p in program.params if kinds[p] == Kind.SCALAR}
    for stmt in program.body:
        fn = FUNCTIONS[stmt.fn]
        texts, arg_kinds = [], []
        for a in stmt.args:
            if isinstance(a, str):
                texts.append(names.current[a])
                arg_kinds.append(kinds[a])
            else:
                ident = f"c{len(hyper) + 1}"
                hyper.append((ident, float(a)))
                scalar_idents.add(ident)
                texts.append(ident)
                arg_kinds.append(Kind.SCALAR)
        out = fn.result_kind(tuple(arg_kinds))
        if fn.arity == 0:
            expr = _literal(float(fn.impl()))
        else:
            expr = fn.py.format(*texts)
        helpers.update(h for h in HELPERS if h + "(" in expr)
        has_global = has_global or fn.scope == "global"
        kinds[stmt.target] = out
        target = names.define(stmt.target)
        var_texts = [t for t, a in zip(texts, stmt.args, strict=True) if isinstance(a, str)]
        if out == Kind.SCALAR and all(t in scalar_idents for t in var_texts):
            # depends on lr, step and constants only: computed once, in float32
            scalar_lines.append(f"{target} = {expr}")
            scalar_idents.add(target)
        else:
            cast_needed.extend(t for t in texts if t in scalar_idents and t not in cast_needed)
            tensor_lines.append(f"{target} = {expr}")
    for h in list(helpers):
        helpers.update(_HELPER_DEPS.get(h, ()))
    uses_weights = any(program.params[0] in s.uses() for s in program.body) or (
        program.params[0] in program.returns)
    dtype_of = params[0] if uses_weights else params[1]
    hp = "".join(f", {i}={v!r}" for i, v in hyper)
    head = f"def {name}({', '.join(params)}{', *' + hp if hyper else ''}):"
    body = list(scalar_lines)
    body.append(f"dt = {dtype_of}.dtype")
    body.extend(f"{s} = _cast({s}, dt)" for s in cast_needed)
    body.extend(tensor_lines)
    outs = [names.current[r] for r in program.returns]
    trailing = "," if len(outs) == 1 else ""  # always return a tuple
    body.append("return " + ", ".join(f"{o}.astype(dt)" for o in outs) + trailing)
    source = "\n".join([head] + [f"    {line}" for line in body]) + "\n"
    return LeafFunction(source=source, params=params, hyperparameters=tuple(hyper),
                        helpers=tuple(sorted(helpers)), uses_weights=uses_weights,
                        has_global=has_global)


def helper_source(helpers) -> str:
    """The source of the given helpers, in a fixed order."""
    return "\n\n".join(HELPERS[h].strip("\n") for h in HELPERS if h in helpers) + "\n"
