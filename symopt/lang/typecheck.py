"""Abstract type checking over kinds: pure Python, microseconds per program.

Weight, gradient and state slots are `Tensor`s; `lr` and `step` are
`Scalar`s; constants are `Scalar`s. Each statement's result kind comes from
its function's kind table. A program is valid when every statement is
accepted, `update` and every returned state slot are `Tensor`s.

>>> from symopt.lang.parser import parse
>>> p = parse('''
... def train(w, g, lr):
...     n = norm(g)
...     return n
... ''', check=False)
>>> print(check(p, "x.prog")[0])
x.prog:4:5: 'update' (the first returned value) must be a Tensor, but 'n' is a LeafScalar
>>> is_valid(p)
False
"""

from __future__ import annotations

from symopt.errors import Diagnostic
from symopt.lang.kinds import Kind
from symopt.lang.model import Program
from symopt.lang.registry import FUNCTIONS

_S, _T = Kind.SCALAR, Kind.TENSOR
_TABLES = {name: f.kind_table for name, f in FUNCTIONS.items()}


def param_kinds(program: Program) -> dict[str, Kind]:
    """The kind of every parameter: weight, gradient and state are Tensors, the rest Scalars."""
    kinds = dict.fromkeys(program.params, _S)
    for name in program.params[: 2 + program.n_state]:
        kinds[name] = _T
    return kinds


def infer(program: Program) -> dict[str, Kind] | None:
    """The final kind of every variable, or None if the program does not type-check.

    This is the hot path (it runs on every mutation): no diagnostics, no allocation
    beyond the environment dict.
    """
    env = param_kinds(program)
    tables = _TABLES
    for s in program.body:
        table = tables.get(s.fn)
        if table is None:
            return None
        args = s.args
        try:
            if len(args) == 1:
                a = args[0]
                key = (env[a] if a.__class__ is str else _S,)
            elif len(args) == 2:
                a, b = args
                key = (env[a] if a.__class__ is str else _S, env[b] if b.__class__ is str else _S)
            else:
                key = tuple(env[a] if a.__class__ is str else _S for a in args)
        except KeyError:
            return None
        kind = table.get(key)
        if kind is None:
            return None
        env[s.target] = kind
    if len(program.returns) != 1 + program.n_state:
        return None
    for r in program.returns:
        if env.get(r) is not _T:
            return None
    return env


def is_valid(program: Program) -> bool:
    """True when the program type-checks (see module docstring)."""
    return infer(program) is not None


def check(program: Program, filename: str = "<string>") -> list[Diagnostic]:
    """Every type problem in the program, as `Diagnostic`s (empty when valid)."""
    problems: list[Diagnostic] = []
    env: dict[str, Kind] = param_kinds(program)

    def at(line: int, col: int, message: str) -> None:
        problems.append(Diagnostic(filename, line or 1, col or 1, message))

    for s in program.body:
        fn = FUNCTIONS.get(s.fn)
        if fn is None:
            at(s.line, s.col, f"unknown function '{s.fn}'")
            continue
        if len(s.args) != fn.arity:
            at(s.line, s.col, f"{s.fn}() takes {fn.arity} arguments, got {len(s.args)}")
            continue
        kinds = []
        for a in s.args:
            if isinstance(a, str):
                if a not in env:
                    at(s.line, s.col, f"undefined variable '{a}'")
                    break
                kinds.append(env[a])
            else:
                kinds.append(_S)
        else:
            kind = fn.result_kind(tuple(kinds))
            if kind is None:
                labels = ", ".join(k.label for k in kinds)
                at(s.line, s.col, f"{s.fn}() does not accept arguments of kinds ({labels})")
                env[s.target] = _T  # keep checking the rest as if it were fine
            else:
                env[s.target] = kind
            continue
        env[s.target] = _T
    line, col = program.return_line, program.return_col
    expected = 1 + program.n_state
    if len(program.returns) != expected:
        at(line, col, f"wrong number of returned values: expected {expected}, "
                      f"got {len(program.returns)}")
        return problems
    roles = ["'update' (the first returned value)"] + [
        f"state slot '{n}'" for n in program.state_names]
    for role, r in zip(roles, program.returns):
        kind = env.get(r)
        if kind is None:
            at(line, col, f"undefined variable '{r}'")
        elif kind != _T:
            at(line, col, f"{role} must be a Tensor, but '{r}' is a {kind.label}")
    return problems
