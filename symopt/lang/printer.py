"""`Program` -> canonical `.prog` text: one operation per line.

`parse(to_text(p)) == p`, and `to_text(parse(t))` is a fixed point.

>>> from symopt.lang.parser import parse
>>> print(to_text(parse("def train(w, g, lr):\\n    return g * (lr * 0.1)")), end="")
def train(w, g, lr):
    t1 = lr * 0.1
    t2 = g * t1
    return t2
"""

from __future__ import annotations

import math

from symopt.lang.model import Arg, Program, Stmt
from symopt.lang.registry import FUNCTIONS


def format_constant(value: float) -> str:
    """The shortest text that parses back to exactly `value`.

    >>> format_constant(0.001), format_constant(2.0), format_constant(-1e-08)
    ('0.001', '2.0', '-1e-08')
    """
    if not math.isfinite(value):
        raise ValueError(f"constant {value!r} is not finite")
    return repr(float(value))


def format_arg(arg: Arg) -> str:
    return arg if isinstance(arg, str) else format_constant(arg)


def format_expr(stmt: Stmt) -> str:
    """The right-hand side of a statement, e.g. `m / sqrt_v` or `interp(g, m, 0.9)`."""
    fn = FUNCTIONS[stmt.fn]
    args = [format_arg(a) for a in stmt.args]
    if fn.infix:
        return f"{args[0]} {fn.infix} {args[1]}"
    if fn.identity:
        return args[0]
    if fn.prefix and isinstance(stmt.args[0], str):
        return f"{fn.prefix}{args[0]}"
    return f"{stmt.fn}({', '.join(args)})"


def format_stmt(stmt: Stmt) -> str:
    return f"{stmt.target} = {format_expr(stmt)}"


def one_line(text: str) -> str:
    r"""`text` safe inside a `#` comment: line breaks and other control characters escaped
    (a path such as ``'r\nimport os'`` in a header must not end the comment).

    >>> one_line("runs/r\nimport os")
    'runs/r\\nimport os'
    """
    return "".join(ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape")
                   .decode("ascii") for ch in text)


def _comment_lines(header: str) -> list[str]:
    """The header as comment lines, each starting with `#` and free of control characters."""
    lines = []
    for line in header.split("\n"):
        line = one_line(line)
        lines.append(line if line.startswith("#") else "# " + line)
    return lines


def to_text(program: Program, *, header: bool = True) -> str:
    """The canonical text of a program (with its header comment, if any)."""
    lines = _comment_lines(program.header) if header and program.header else []
    lines.append(f"def {program.name}({', '.join(program.params)}):")
    lines.extend(f"    {format_stmt(s)}" for s in program.body)
    lines.append(f"    return {', '.join(program.returns)}")
    return "\n".join(lines) + "\n"
