"""`symopt simplify FILE [-o OUT]`: dead code out, constants folded, algebra tidied."""

from __future__ import annotations

import argparse
import sys

from symopt import files, programs
from symopt.analysis import simplify, summarize, to_nested_text
from symopt.errors import UserError, deprecated
from symopt.lang import parse_file, to_text
from symopt.lang.dead_code import memory_line

NAME = "simplify"
HELP = ("simplify a program (dead code and state slots, constants, algebra, names), "
        "checked to compute the same; prints it (or writes OUT), a before/after summary "
        "and the optimizer memory")


def add_arguments(parser) -> None:
    parser.add_argument("file", metavar="FILE", help="a .prog file")
    parser.add_argument("--output", dest="old_out", help=argparse.SUPPRESS)  # old spelling
    parser.add_argument("-o", "--out", metavar="OUT",
                        help="write the simplified program here instead of printing it")
    parser.add_argument("--flat", action="store_true",
                        help="one operation per line (default: single-use temporaries inline)")


def run(args) -> int:
    if args.old_out:
        deprecated("--output", "--out")
        args.out = args.out or args.old_out
    if args.out:
        files.output_file(args.out, "-o")
    before = parse_file(programs.resolve(args.file))
    after = simplify(before)
    text = to_text(after) if args.flat else to_nested_text(after)
    if args.out:
        try:
            with open(args.out, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as err:
            raise UserError(f"-o {args.out}: cannot write: {err.strerror or err}") from None
    else:
        print(text, end="")
    print(f"{args.file}: {summarize(before, after)}", file=sys.stderr)
    print(f"{args.file}: {memory_line(after)}", file=sys.stderr)
    return 0
