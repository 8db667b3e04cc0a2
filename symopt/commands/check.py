"""`symopt check FILE...`: parse and type-check programs."""

from __future__ import annotations

import sys

from symopt import programs
from symopt.errors import ProgramError
from symopt.lang import parse_file

NAME = "check"
HELP = "parse and type-check programs; one line per file, exit 2 on any problem"


def add_arguments(parser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help=".prog files")


def run(args) -> int:
    status = 0
    for path in args.files:
        try:
            p = parse_file(programs.resolve(path))
        except ProgramError as err:
            print(err, file=sys.stderr)
            status = 2
            continue
        print(f"{path}: ok, {len(p.body)} statements, {p.n_state} state slot"
              f"{'' if p.n_state == 1 else 's'}, {len(p.constants())} constants")
    return status
