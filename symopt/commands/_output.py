"""`-o/--out OUT` of the verbs that print a program or code (`export`, `simplify`): the
old spelling `--output`, the path checked before any work, and the text written or printed.
"""

from __future__ import annotations

import argparse

from symopt import files
from symopt.errors import UserError, deprecated


def add_out_argument(parser: argparse.ArgumentParser, help: str) -> None:
    """`-o/--out OUT`, and the old `--output` (hidden; it warns)."""
    parser.add_argument("--output", dest="old_out", help=argparse.SUPPRESS)  # old spelling
    parser.add_argument("-o", "--out", metavar="OUT", help=help)


def checked_out(args: argparse.Namespace) -> str | None:
    """Where to write (None: stdout), checked before any work (`symopt.files.output_file`).

    >>> checked_out(argparse.Namespace(out=None, old_out=None)) is None
    True
    """
    if args.old_out:
        deprecated("--output", "--out")
        args.out = args.out or args.old_out
    if args.out:
        files.output_file(args.out, "-o")
    return args.out


def emit(text: str, out: str | None) -> None:
    """Write `text`, ending in a newline, to the file `out` (UTF-8), or print it.

    >>> emit("x = 1", None)
    x = 1
    """
    text = text if text.endswith("\n") else text + "\n"
    if out is None:
        print(text, end="")
        return
    try:
        with open(out, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as err:
        raise UserError(f"-o {out}: cannot write: {err.strerror or err}") from None
