"""Dead code: statements whose value never reaches a returned output, and dead state slots.

A statement is dead when nothing returned depends on it: its target is never
read afterwards, or is overwritten before it is read. Dead statements stay in
the genome (they are stepping stones for mutation) but are dropped before
hashing, compiling and training.

State slots can be dead too, and `remove_dead` drops them with the dead
statements (`prune_slots`): a slot that never influences the update, directly
or through other slots, is removed; slots that always hold equal values (they
start at zero and their new values are the same expression once the slots
are assumed equal) are merged into one. The result keeps fewer state values
per parameter (`state_values`) and computes the same updates, so programs
that differ only by a useless slot hash alike.

>>> from symopt.lang import parse
>>> p = parse('''
... def train(w, g, m, lr):
...     x = g * 2.0
...     x = sign(g)
...     unused = exp(m)
...     m = interp(g, m, 0.9)
...     update = x * lr
...     return update, m
... ''')
>>> live_mask(p)
(False, True, False, True, True)
>>> round(redundant_fraction(p), 2)
0.4
>>> remove_dead(p).params    # m never reaches the update: the slot goes too
('w', 'g', 'lr')
"""

from __future__ import annotations

from symopt.lang.model import Program, Stmt
from symopt.lang.registry import FUNCTIONS, IDENTITY


def live_mask(program: Program) -> tuple[bool, ...]:
    """For each statement, whether a returned output depends on it."""
    needed = set(program.returns)
    mask = []
    for s in reversed(program.body):
        if s.target in needed:
            needed.discard(s.target)
            needed.update(a for a in s.args if a.__class__ is str)
            mask.append(True)
        else:
            mask.append(False)
    return tuple(reversed(mask))


def remove_dead(program: Program, *, slots: bool = True) -> Program:
    """The program without its dead statements and (with `slots`) dead or duplicate slots.

    The same object if there is nothing to remove.

    >>> from symopt.lang import parse
    >>> p = parse('''
    ... def train(w, g, m, v, lr):
    ...     m = interp(g, m, 0.9)
    ...     v = interp(square(g), v, 0.999)
    ...     return sign(m) * lr, m, v
    ... ''')
    >>> remove_dead(p).params, remove_dead(p, slots=False).params
    (('w', 'g', 'm', 'lr'), ('w', 'g', 'm', 'v', 'lr'))
    """
    if slots:
        program = prune_slots(program)
    mask = live_mask(program)
    if all(mask):
        return program
    body = tuple(s for s, live in zip(program.body, mask, strict=True) if live)
    return program.replace(body=body)


def redundant_fraction(program: Program) -> float:
    """The fraction of statements that are dead (0.0 for an empty body)."""
    mask = live_mask(program)
    return (len(mask) - sum(mask)) / len(mask) if mask else 0.0


def state_values(program: Program) -> int:
    """Optimizer memory: state values kept per parameter value, after `prune_slots`.

    >>> from symopt import programs
    >>> [state_values(programs.load(n)) for n in ("adamw", "lion", "sgd")]
    [2, 1, 0]
    """
    return prune_slots(program).n_state


def memory_line(program: Program) -> str:
    """The line `symopt simplify`, `eval` and `search` print about optimizer memory.

    >>> from symopt import programs
    >>> memory_line(programs.load("adamw"))
    'optimizer memory: 2 state values per parameter'
    """
    n = state_values(program)
    return f"optimizer memory: {n} state value{'' if n == 1 else 's'} per parameter"


def _deps(program: Program) -> dict[str, frozenset[str]]:
    """The parameters each variable's final value depends on."""
    env = {p: frozenset((p,)) for p in program.params}
    for s in program.body:
        env[s.target] = frozenset().union(*(env[a] for a in s.uses()))
    return env


def _slot_keys(program: Program, cls: dict[str, int]) -> dict[str, int]:
    """Structural keys of the slots' new values, each slot parameter keyed by its class."""
    interned: dict[tuple, int] = {}

    def key(t: tuple) -> int:
        return interned.setdefault(t, len(interned))

    env = {p: key(("param", p)) for p in program.params}
    env.update({name: key(("slot", c)) for name, c in cls.items()})
    for s in program.body:
        args = [env[a] if a.__class__ is str else key(("const", repr(a))) for a in s.args]
        if FUNCTIONS[s.fn].identity:
            env[s.target] = args[0]
            continue
        if FUNCTIONS[s.fn].commutative:
            args.sort()
        env[s.target] = key((s.fn, *args))
    return {n: env[r] for n, r in zip(program.state_names, program.returns[1:], strict=True)}


def prune_slots(program: Program) -> Program:
    """`program` without the state slots that cannot change its update (module docstring).

    Slots that never influence the update are dropped (parameter and returned
    value). Slots that always equal an earlier slot are merged into it: the
    later slot's name is bound to the earlier one's (``v = m``) at the top of
    the body. When a slot goes, so does the dead code (the same object when
    nothing goes). The coarsest partition of slots into always-equal classes is
    found by refinement: all slots start in one class (they all start at 0);
    a class splits when its members' new values differ as expressions, with
    each slot read as its class; repeat until stable.

    >>> from symopt.lang import parse, to_text
    >>> p = parse('''
    ... def train(w, g, m, v, lr):
    ...     m = interp(g, m, 0.9)
    ...     v = interp(g, v, 0.9)
    ...     return (m + v) * lr, m, v
    ... ''')
    >>> print(to_text(prune_slots(p)), end="")
    def train(w, g, m, lr):
        v = m
        m = interp(g, m, 0.9)
        v = interp(g, v, 0.9)
        t1 = m + v
        t2 = t1 * lr
        return t2, m
    """
    names = program.state_names
    if not names:
        return program
    mask = live_mask(program)
    live = program.replace(body=tuple(s for s, k in zip(program.body, mask, strict=True) if k))
    deps = _deps(live)
    new_value = dict(zip(names, program.returns[1:], strict=True))
    slot_set = set(names)
    keep = set(deps[program.returns[0]]) & slot_set
    todo = list(keep)
    while todo:
        for d in deps[new_value[todo.pop()]] & slot_set:
            if d not in keep:
                keep.add(d)
                todo.append(d)
    kept = [n for n in names if n in keep]
    cls = {n: 0 for n in kept}
    while True:
        keys = _slot_keys(live, cls)
        ids: dict[tuple, int] = {}
        refined = {n: ids.setdefault((cls[n], keys[n]), len(ids)) for n in kept}
        if len(ids) == len(set(cls.values())):
            break
        cls = refined
    first: dict[int, str] = {}
    alias: dict[str, str] = {}
    for n in kept:
        if cls[n] in first:
            alias[n] = first[cls[n]]
        else:
            first[cls[n]] = n
    if len(first) == len(names):
        return program
    survivors = tuple(first.values())
    p = program.params
    params = p[:2] + survivors + p[2 + len(names):]
    returns = (program.returns[0],) + tuple(new_value[n] for n in survivors)
    readers = {a for s in live.body for a in s.uses()} | set(live.returns)
    binds = tuple(Stmt(n, IDENTITY, (alias[n],)) for n in names if n in alias and n in readers)
    pruned = program.replace(params=params, body=binds + live.body, returns=returns)
    return pruned.replace(body=tuple(
        s for s, k in zip(pruned.body, live_mask(pruned), strict=True) if k))
