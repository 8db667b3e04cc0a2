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

from collections.abc import Callable
from dataclasses import dataclass

from symopt.errors import Diagnostic
from symopt.lang.kinds import Kind
from symopt.lang.model import Program, Stmt
from symopt.lang.registry import FUNCTIONS, KIND_TABLES

_S, _T = Kind.SCALAR, Kind.TENSOR


@dataclass(frozen=True)
class TypedProgram:
    """A program that type-checks, with the kind of every value: what the mutation
    operators, the compiler, the fingerprint and the code generator read instead of
    inferring kinds again.

    >>> from symopt.lang.parser import parse
    >>> t = typed(parse("def train(w, g, lr):\\n    n = norm(g)\\n    u = g * n\\n    return u"))
    >>> [k.label for k in t.kinds], [k.label for k in t.arg_kinds[1]]
    (['LeafScalar', 'Tensor'], ['Tensor', 'LeafScalar'])
    """

    program: Program
    #: The kind of each parameter (weight, gradient, state: Tensor; lr, step: Scalar).
    params: dict[str, Kind]
    #: The kind of each statement's result, in order.
    kinds: tuple[Kind, ...]
    #: The kinds of each statement's arguments (a constant is a Scalar), in order.
    arg_kinds: tuple[tuple[Kind, ...], ...]
    #: The final kind of every variable.
    env: dict[str, Kind]


def param_kinds(program: Program) -> dict[str, Kind]:
    """The kind of every parameter: weight, gradient and state are Tensors, the rest Scalars."""
    kinds = dict.fromkeys(program.params, _S)
    for name in program.params[: 2 + program.n_state]:
        kinds[name] = _T
    return kinds


Report = Callable[[int, int, str], None]


def _infer(program: Program, report: Report | None) -> TypedProgram | None:
    """The one kind inference. Without `report` (the hot path: it runs on every mutation)
    it stops at the first problem and returns None; with it, it reports every problem as
    ``report(line, col, message)``, going on as if a bad statement gave a Tensor."""
    params = param_kinds(program)
    env = dict(params)
    kinds: list[Kind] = []
    arg_kinds: list[tuple[Kind, ...]] = []
    tables = KIND_TABLES
    for s in program.body:
        table = tables.get(s.fn)
        try:
            key = tuple([env[a] if a.__class__ is str else _S for a in s.args])
        except KeyError:
            key = None
        kind = None if table is None or key is None else table.get(key)
        if kind is None:
            if report is None:
                return None
            kind = _diagnose(s, env, report)
            if kind is None:
                continue
            key = ()
        env[s.target] = kind
        kinds.append(kind)
        arg_kinds.append(key or ())  # None only for a reported statement
    ok = _check_returns(program, env, report)
    if report is not None or not ok:
        return None
    return TypedProgram(program, params, tuple(kinds), tuple(arg_kinds), env)


def _diagnose(s: Stmt, env: dict[str, Kind], report: Report) -> Kind | None:
    """Report why statement `s` has no kind; the kind to go on with (None: leave undefined)."""
    fn = FUNCTIONS.get(s.fn)
    if fn is None:
        report(s.line, s.col, f"unknown function '{s.fn}'")
        return None
    if len(s.args) != fn.arity:
        report(s.line, s.col, f"{s.fn}() takes {fn.arity} arguments, got {len(s.args)}")
        return None
    for a in s.args:
        if a.__class__ is str and a not in env:
            report(s.line, s.col, f"undefined variable '{a}'")
            return _T
    kinds = [env[a] if a.__class__ is str else _S for a in s.args]
    labels = ", ".join(k.label for k in kinds)
    report(s.line, s.col, f"{s.fn}() does not accept arguments of kinds ({labels})")
    return _T  # keep checking the rest as if it were fine


def _check_returns(program: Program, env: dict[str, Kind], report: Report | None) -> bool:
    expected = 1 + program.n_state
    if len(program.returns) != expected:
        if report is not None:
            report(program.return_line, program.return_col,
                   f"wrong number of returned values: expected {expected}, "
                   f"got {len(program.returns)}")
        return False
    ok = True
    roles = ["'update' (the first returned value)"] + [
        f"state slot '{n}'" for n in program.state_names]
    for role, r in zip(roles, program.returns):
        kind = env.get(r)
        if kind is _T:
            continue
        ok = False
        if report is None:
            break
        if kind is None:
            report(program.return_line, program.return_col, f"undefined variable '{r}'")
        else:
            report(program.return_line, program.return_col,
                   f"{role} must be a Tensor, but '{r}' is a {kind.label}")
    return ok


def typed(program: Program) -> TypedProgram | None:
    """The program with the kind of every value, or None if it does not type-check."""
    return _infer(program, None)


def infer(program: Program) -> dict[str, Kind] | None:
    """The final kind of every variable, or None if the program does not type-check."""
    t = _infer(program, None)
    return None if t is None else t.env


def is_valid(program: Program) -> bool:
    """True when the program type-checks (see module docstring)."""
    return _infer(program, None) is not None


def check(program: Program, filename: str = "<string>") -> list[Diagnostic]:
    """Every type problem in the program, as `Diagnostic`s (empty when valid)."""
    if _infer(program, None) is not None:
        return []
    problems: list[Diagnostic] = []

    def report(line: int, col: int, message: str) -> None:
        problems.append(Diagnostic(filename, line or 1, col or 1, message))

    _infer(program, report)
    return problems
