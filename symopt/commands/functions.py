"""`symopt functions`: the function library as a table."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from symopt.lang.registry import FUNCTIONS

NAME = "functions"
HELP = "list the library functions with their kinds"


def add_arguments(parser) -> None:
    pass


def run(args) -> int:
    table = Table(title=f"symopt function library ({len(FUNCTIONS)} functions)")
    for col in ("name", "arity", "scope", "kinds", "written", "meaning"):
        table.add_column(col)
    for f in FUNCTIONS.values():
        table.add_row(f.name, str(f.arity), f.scope, f.signature(), f.written(), f.doc)
    Console(width=140).print(table)
    return 0
