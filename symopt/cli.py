"""The `symopt` command line: a thin layer over the library.

Each verb lives in its own module under `symopt/commands/` and defines
`NAME`, `HELP`, `add_arguments(parser)` and `run(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import warnings
from typing import TextIO

from symopt import commands
from symopt.errors import ProgramError, SymoptDeprecationWarning, SymoptError


def _verbs():
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"{commands.__name__}.{info.name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="symopt", description="Discover optimizers by evolving symbolic programs."
    )
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb in _verbs():
        p = sub.add_parser(verb.NAME, help=verb.HELP, description=verb.HELP)
        verb.add_arguments(p)
        p.set_defaults(_run=verb.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            shown = warnings.showwarning

            def show(message: Warning | str, category: type[Warning], filename: str,
                     lineno: int, file: TextIO | None = None, line: str | None = None) -> None:
                if issubclass(category, SymoptDeprecationWarning):  # old spellings: one line
                    print(f"symopt: warning: {message}", file=sys.stderr)
                else:
                    shown(message, category, filename, lineno, file, line)

            warnings.showwarning = show
            return int(args._run(args) or 0)
    except ProgramError as err:  # already `file:line:col: message` lines
        print(err, file=sys.stderr)
        return 2
    except SymoptError as err:
        print(f"symopt: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("symopt: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
