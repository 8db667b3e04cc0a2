"""Readable program text: single-use temporaries printed inline, as nested expressions.

The program model stays flat (one operation per statement); this printer
only writes it more readably. A statement is inlined into the one statement
that reads it when its value is read exactly once, is not returned, does not
assign a parameter's name (state updates stay visible), and none of the
names it reads is reassigned before that read, and its own text is at most
`INLINE_WIDTH` characters (longer ones keep their names: lines stay readable).
Parsing the text flattens it back into the same dataflow (the same canonical
hash), with the parser's temporary names.

>>> from symopt import programs
>>> print(to_nested_text(programs.load("lion"), header=False), end="")
def train(w, g, m, lr):
    update = (sign(interp(g, m, 0.9)) + w * 0.1) * (lr * 0.1)
    m = interp(g, m, 0.99)
    return update, m
"""

from __future__ import annotations

from bisect import bisect_right

from symopt.lang.model import Program
from symopt.lang.printer import format_constant
from symopt.lang.registry import FUNCTIONS

_ATOM, _UNARY = 4, 3  # infix operators bind as tightly as their `Function.precedence` (1, 2)
#: Longest expression text that is inlined into its reader.
INLINE_WIDTH = 40


def _render(fn: str, parts: list[tuple[str, int]]) -> tuple[str, int]:
    """Text and precedence of ``fn`` applied to already rendered arguments."""
    f = FUNCTIONS[fn]
    if f.infix:
        prec = f.precedence
        (lt, lp), (rt, rp) = parts
        left = f"({lt})" if lp < prec else lt
        right = f"({rt})" if rp <= prec else rt  # `a - (b - c)`, and keeps the tree shape
        return f"{left} {f.infix} {right}", prec
    if f.identity:
        return parts[0]
    if f.prefix and not _is_number(parts[0][0]):
        text, prec = parts[0]
        return (f"{f.prefix}({text})" if prec <= _UNARY else f"{f.prefix}{text}"), _UNARY
    return f"{fn}({', '.join(t for t, _ in parts)})", _ATOM


def _is_number(text: str) -> bool:
    return text.lstrip("-")[:1].isdigit()


def _arg_part(a) -> tuple[str, int]:
    if isinstance(a, str):
        return a, _ATOM
    text = format_constant(a)
    return text, (_UNARY if text.startswith("-") else _ATOM)


def to_nested_text(program: Program, *, header: bool = True) -> str:
    """The program's text with single-use temporaries inlined (see module docstring)."""
    body = program.body
    params = set(program.params)
    # Which definition each argument reads, who reads each definition, where names are set.
    current: dict[str, int] = {}
    readers: list[list[int]] = [[] for _ in body]
    assigned: dict[str, list[int]] = {}
    for j, s in enumerate(body):
        for a in s.uses():
            if a in current:
                readers[current[a]].append(j)
        current[s.target] = j
        assigned.setdefault(s.target, []).append(j)
    returned = {current[r] for r in program.returns if r in current}

    def reassigned_between(names: set[str], lo: int, hi: int) -> bool:
        for name in names:
            at = assigned.get(name, [])
            k = bisect_right(at, lo)
            if k < len(at) and at[k] < hi:
                return True
        return False

    inlined: dict[int, tuple[str, int, set[str]]] = {}
    current = {}
    lines = []
    for j, s in enumerate(body):
        parts, free = [], set()
        for arg in s.args:
            i = current.get(arg) if isinstance(arg, str) else None
            if i is not None and i in inlined:
                text, prec, names = inlined.pop(i)
                parts.append((text, prec))
                free |= names
            else:
                parts.append(_arg_part(arg))
                if isinstance(arg, str):
                    free.add(arg)
        text, prec = _render(s.fn, parts)
        current[s.target] = j
        single = len(readers[j]) == 1
        if (single and j not in returned and s.target not in params and len(text) <= INLINE_WIDTH
                and not reassigned_between(free, j, readers[j][0])):
            inlined[j] = (text, prec, free)
        else:
            lines.append(f"    {s.target} = {text}")
    out = [program.header] if header and program.header else []
    out.append(f"def {program.name}({', '.join(program.params)}):")
    out.extend(lines)
    out.append(f"    return {', '.join(program.returns)}")
    return "\n".join(out) + "\n"
