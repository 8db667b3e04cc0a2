"""The write-up as a document model: title, abstract, sections of blocks, references.

The rules that write the text (`symopt.report.writeup`, `symopt.report.writeup_sweep`) build
a `Paper`; the typesetter (`symopt.report.typeset`) turns it into Typst or LaTeX. Text is
plain, except that spans between backticks are code; the typesetter escapes the rest.

>>> p = Paper("T", "A.", [Section("Method", [Para("Uses `sign(g)` [1].")])])
>>> [type(b).__name__ for s in p.sections for b in s.blocks]
['Para']
>>> split_code("a `x*y` b")
[('a ', False), ('x*y', True), (' b', False)]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from symopt.lang.dead_code import remove_dead
from symopt.lang.model import Program
from symopt.lang.printer import format_arg, format_expr


@dataclass
class Para:
    text: str


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    caption: str


@dataclass
class Figure:
    path: Path  # the image as written by the report; the typesetter copies it beside the paper
    caption: str


@dataclass
class Code:
    text: str
    caption: str
    lang: str = "python"


@dataclass
class Algorithm:
    """A program's live update, one operation per line (`algorithm_lines`)."""

    program: Program
    caption: str

    @property
    def require(self) -> str:
        return algorithm_lines(self.program)[0]

    @property
    def lines(self) -> list[str]:
        return algorithm_lines(self.program)[1]


Block = Para | Bullets | Table | Figure | Code | Algorithm


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Paper:
    title: str
    abstract: str
    sections: list[Section]
    references: bool = True


def split_code(text: str) -> list[tuple[str, bool]]:
    """`text` as (span, is_code) pairs; code spans are between backticks."""
    parts = text.split("`")
    return [(p, i % 2 == 1) for i, p in enumerate(parts) if p]


def algorithm_lines(program: Program) -> tuple[str, list[str]]:
    """The `Require` line and the numbered lines of a program's live update.

    >>> from symopt import programs
    >>> req, lines = algorithm_lines(programs.load("signum"))
    >>> req
    'Require: weights w, gradient g, state m, learning rate lr'
    >>> lines[-2:]
    ['update ← t1 * t2', 'w ← w − update']
    """
    p = remove_dead(program)
    roles = ["weights", "gradient"] + ["state"] * p.n_state
    req = [f"{r} {name}" for r, name in zip(roles, p.params)] + [f"learning rate {p.lr_name}"]
    if p.has_step:
        req.append("step (from 1)")
    lines = [f"{s.target} ← {format_expr(s)}" for s in p.body]
    w = p.params[0]
    lines.append(f"{w} ← {w} − {format_arg(p.returns[0])}")
    lines += [f"{slot} ← {new}" for slot, new in zip(p.state_names, p.returns[1:]) if slot != new]
    return "Require: " + ", ".join(req), lines
