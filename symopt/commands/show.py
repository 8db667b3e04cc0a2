"""`symopt show FILE`: print a program's canonical form."""

from __future__ import annotations

from symopt import programs
from symopt.lang import parse_file, to_text

NAME = "show"
HELP = "print the canonical form of a program (one operation per line)"


def add_arguments(parser) -> None:
    parser.add_argument("file", metavar="FILE", help="a .prog file")


def run(args) -> int:
    print(to_text(parse_file(programs.resolve(args.file))), end="")
    return 0
