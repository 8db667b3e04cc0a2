"""`simplify(program)`: dead code and slots out, constants folded, algebra tidied, names readable.

State slots that never influence the update are removed and slots that
always hold equal values are merged first (`symopt.lang.dead_code.prune_slots`).

The live statements are rewritten into a shared expression DAG
(`symopt.analysis.rewrite`), which is written back as a flat program:

- statements in dependency order, the new value of a state slot as late as
  possible, so that it can take the slot's own name (``m = interp(g, m, 0.99)``);
  when the old value is still needed afterwards it is called ``<slot>_new``;
- the first returned value is called ``update``; other values get names
  from what computes them (``sign_ema``, ``lr_scaled``, ``sum``, ...).

The result must behave the same: `simplify` compares the numeric fingerprints
of the input and the result (falling back to the unrounded outputs with a
tolerance, `same_behaviour`, when only a rounding boundary separates them) and
raises `SimplifyError` rather than return a program that differs.

>>> from symopt.lang import parse, to_text
>>> p = parse('''
... def train(w, g, m, lr):
...     dead = exp(g)
...     m = interp(g, m, 0.9)
...     m2 = m * m
...     a = sqrt(m2)
...     u = m / a
...     s = lr * 0.01
...     s = s * 10.0
...     update = u * s
...     return update, m
... ''')
>>> print(to_text(simplify(p)), end="")
def train(w, g, m, lr):
    m = interp(g, m, 0.9)
    sign_m = sign(m)
    lr_scaled = lr * 0.1
    update = sign_m * lr_scaled
    return update, m
"""

from __future__ import annotations

from dataclasses import dataclass

from symopt.analysis.fingerprinting import fingerprint, same_behaviour
from symopt.analysis.rewrite import Dag, build_dag
from symopt.errors import ProgramError, SymoptError
from symopt.lang.dead_code import prune_slots, redundant_fraction
from symopt.lang.model import Program, Stmt
from symopt.lang.registry import FUNCTIONS
from symopt.lang.typecheck import check, is_valid

_MAX_NAME = 14


class SimplifyError(SymoptError):
    """The simplified program would not behave like the original: nothing is emitted."""


@dataclass(frozen=True)
class Summary:
    """Before/after figures of a simplification."""

    statements_before: int
    statements_after: int
    redundant_before: float
    redundant_after: float
    slots_before: int = 0
    slots_after: int = 0

    def __str__(self) -> str:
        return (f"statements: {self.statements_before} -> {self.statements_after}; "
                f"redundant fraction: {self.redundant_before:.0%} -> {self.redundant_after:.0%}; "
                f"state slots: {self.slots_before} -> {self.slots_after}")


def simplification_summary(before: Program, after: Program) -> Summary:
    """The before/after summary that `symopt simplify` prints.

    >>> from symopt import programs
    >>> p = programs.load("lion")
    >>> print(simplification_summary(p, p))
    statements: 7 -> 7; redundant fraction: 0% -> 0%; state slots: 1 -> 1
    """
    return Summary(len(before.body), len(after.body), redundant_fraction(before),
                   redundant_fraction(after), before.n_state, after.n_state)


def _schedule(dag: Dag, reachable: list[int], slot_of: dict[int, str]) -> tuple[list[int], set]:
    """An emission order of the reachable nodes; also the slot outputs that must be renamed.

    A node holding a slot's new value waits while any other pending node still
    reads the slot's old value (the parameter); if every ready node waits, the
    first one goes anyway and gets a ``_new`` name.
    """
    pending = set(reachable)
    readers: dict[str, set[int]] = {}
    deps: dict[int, set[int]] = {}
    for n in reachable:
        args = dag.nodes[n][1]
        deps[n] = {a for a in args if a.__class__ is int}
        for a in args:
            if a.__class__ is str:
                readers.setdefault(a, set()).add(n)
    order: list[int] = []
    renamed: set[int] = set()
    done: set[int] = set()
    while pending:
        ready = sorted(n for n in pending if deps[n] <= done)

        def blocked(n):
            slot = slot_of.get(n)
            return slot is not None and bool((readers.get(slot, set()) & pending) - {n})

        free = [n for n in ready if not blocked(n)]
        if free:
            n = free[0]
        else:
            n = ready[0]
            renamed.add(n)
        order.append(n)
        pending.discard(n)
        done.add(n)
    return order, renamed


class _Namer:
    def __init__(self, taken: set[str]):
        self.taken = set(taken)

    def claim(self, base: str) -> str:
        base = base[:_MAX_NAME]
        name, k = base, 1
        while name in self.taken or name in FUNCTIONS:
            k += 1
            name = f"{base}{k}"
        self.taken.add(name)
        return name


def _base_name(dag: Dag, node: int, names: dict) -> str:
    fn, args = dag.nodes[node]
    named = [names[a] if a.__class__ is int else a for a in args if a.__class__ is not float]
    consts = [a for a in args if a.__class__ is float]
    f = FUNCTIONS[fn]
    if f.scales and len(named) == 1 and consts:
        return f"{named[0]}_scaled"
    if len(args) == 1 and named and len(f"{fn}_{named[0]}") <= _MAX_NAME:
        return f"{fn}_{named[0]}"
    return f.value_name or f"{fn}_val"


def linearize(dag: Dag, like: Program) -> Program:
    """The DAG's outputs as a flat program with the signature of `like`."""
    outputs = dag.outputs
    reachable: set[int] = set()
    stack = [v for v in outputs if v.__class__ is int]
    while stack:
        n = stack.pop()
        if n not in reachable:
            reachable.add(n)
            stack.extend(a for a in dag.nodes[n][1] if a.__class__ is int)
    slot_of: dict[int, str] = {}
    for slot, v in zip(like.state_names, outputs[1:], strict=True):
        # A slot returning another slot's old value pins that parameter: never overwrite it.
        if v.__class__ is int and v not in slot_of:
            slot_of[v] = slot
    pinned = {v for v in outputs if v.__class__ is str}
    order, renamed = _schedule(dag, sorted(reachable), slot_of)
    namer = _Namer(set(like.params))
    names: dict[int, str] = {}
    if outputs[0].__class__ is int:
        namer.taken.discard("update")
        names[outputs[0]] = namer.claim("update")
    for n, slot in slot_of.items():
        if n in names:
            continue
        if n in renamed or slot in pinned:
            names[n] = namer.claim(f"{slot}_new")
        else:
            names[n] = slot  # overwrites the parameter: every reader of the old value is done
    body = []
    for n in order:
        if n not in names:
            names[n] = namer.claim(_base_name(dag, n, names))
        fn, args = dag.nodes[n]
        body.append(Stmt(names[n], fn, tuple(names[a] if a.__class__ is int else a
                                             for a in args)))
    returns = tuple(names[v] if v.__class__ is int else v for v in outputs)
    return like.replace(body=tuple(body), returns=returns, return_line=0, return_col=0)


def simplify(program: Program, *, verify: bool = True) -> Program:
    """`program` simplified (see the module docstring), checked to behave the same.

    Raises `ProgramError` if `program` does not type-check, and `SimplifyError`
    if the result's fingerprint differs from the input's (with `verify`; the
    input without its dead slots, whose removal is exact by construction).
    """
    problems = check(program)
    if problems:
        raise ProgramError(problems)
    program = prune_slots(program)
    result = linearize(build_dag(program), program)
    if not is_valid(result):  # a rule changed a kind: a bug, never emit it
        raise SimplifyError("simplification produced a program that does not type-check; "
                            "the input is left as it is")
    if verify and not same_behaviour(program, result):
        before, after = fingerprint(program), fingerprint(result)
        raise SimplifyError(f"simplification would change what the program computes "
                            f"(fingerprint {before} -> {after}); the input is left as it is")
    return result
