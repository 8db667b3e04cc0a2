"""`symopt export FILE --to optax|python|latex [-o OUT] [--name NAME]`."""

from __future__ import annotations

import re
from pathlib import Path

from symopt import programs
from symopt.compile import export_latex, export_optax, export_python
from symopt.errors import UserError
from symopt.lang import parse_file

NAME = "export"
HELP = "export a program as a standalone optax optimizer, a Python function or LaTeX"

_EXPORTERS = {"optax": export_optax, "python": export_python, "latex": export_latex}


def add_arguments(parser) -> None:
    parser.add_argument("file", metavar="FILE", help="a .prog file")
    parser.add_argument("--to", required=True, choices=sorted(_EXPORTERS),
                        help="what to export to")
    parser.add_argument("-o", "--output", metavar="OUT", help="write here (default: stdout)")
    parser.add_argument("--name", help="name of the generated function "
                        "(default: from the file name)")


def default_name(path: str, target: str) -> str:
    """A function name from a file name: `programs/my-lion.prog` -> `my_lion`.

    >>> default_name("programs/my-lion.prog", "optax"), default_name("x/2nd.prog", "python")
    ('my_lion', 'p_2nd')
    """
    if target == "latex":
        return Path(path).stem
    name = re.sub(r"[^0-9A-Za-z]+", "_", Path(path).stem).strip("_").lower() or "optimizer"
    return "p_" + name if name[0].isdigit() else name


def run(args) -> int:
    program = parse_file(programs.resolve(args.file))
    name = args.name or default_name(args.file, args.to)
    text = _EXPORTERS[args.to](program, name=name)
    if args.output:
        try:
            Path(args.output).write_text(text if text.endswith("\n") else text + "\n")
        except OSError as err:
            raise UserError(f"cannot write -o {args.output}: {err.strerror}") from err
    else:
        print(text, end="" if text.endswith("\n") else "\n")
    return 0
