"""`symopt simplify FILE [-o OUT]`: dead code out, constants folded, algebra tidied."""

from __future__ import annotations

import sys

from symopt import programs
from symopt.analysis import simplification_summary, simplify, to_nested_text
from symopt.commands._output import add_out_argument, checked_out, emit
from symopt.lang import parse_file, to_text
from symopt.lang.dead_code import memory_line

NAME = "simplify"
HELP = ("simplify a program (dead code and state slots, constants, algebra, names), "
        "checked to compute the same; prints it (or writes OUT), a before/after summary "
        "and the optimizer memory")


def add_arguments(parser) -> None:
    parser.add_argument("file", metavar="FILE", help="a .prog file")
    add_out_argument(parser, "write the simplified program here instead of printing it")
    parser.add_argument("--flat", action="store_true",
                        help="one operation per line (default: single-use temporaries inline)")


def run(args) -> int:
    out = checked_out(args)
    before = parse_file(programs.resolve(args.file))
    after = simplify(before)
    emit(to_text(after) if args.flat else to_nested_text(after), out)
    print(f"{args.file}: {simplification_summary(before, after)}", file=sys.stderr)
    print(f"{args.file}: {memory_line(after)}", file=sys.stderr)
    return 0
