"""`symopt export FILE --to optax|torch|python|latex [-o OUT] [--name NAME]`.

Besides the code, it prints (on stderr) the optimizer memory and, for a
sign-like update, the hyperparameter transfer hint (`symopt.analysis.hints`).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from symopt import programs
from symopt.analysis.hints import transfer_hint
from symopt.commands._output import add_out_argument, checked_out, emit
from symopt.compile import export_latex, export_optax, export_python, export_torch
from symopt.lang import parse_file
from symopt.lang.dead_code import memory_line

NAME = "export"
HELP = ("export a program as a standalone optax optimizer, a torch.optim.Optimizer, "
        "a Python function or LaTeX")

_EXPORTERS = {"optax": export_optax, "torch": export_torch, "python": export_python,
              "latex": export_latex}


def add_arguments(parser) -> None:
    parser.add_argument("file", metavar="FILE", help="a .prog file")
    parser.add_argument("--to", required=True, choices=sorted(_EXPORTERS),
                        help="what to export to")
    add_out_argument(parser, "write here (default: stdout)")
    parser.add_argument("--name", help="name of the generated function or (torch) class "
                        "(default: from the file name)")


def default_name(path: str, target: str) -> str:
    """A function name from a file name: `programs/my-lion.prog` -> `my_lion` (torch: `MyLion`).

    >>> default_name("programs/my-lion.prog", "optax"), default_name("x/2nd.prog", "python")
    ('my_lion', 'p_2nd')
    >>> default_name("runs/q/best.prog", "torch"), default_name("x/2nd.prog", "torch")
    ('Best', 'P2nd')
    """
    if target == "latex":
        return Path(path).stem
    name = re.sub(r"[^0-9A-Za-z]+", "_", Path(path).stem).strip("_").lower() or "optimizer"
    name = "p_" + name if name[0].isdigit() else name
    if target == "torch":
        name = "".join(part[:1].upper() + part[1:] for part in name.split("_"))
    return name


def run(args) -> int:
    out = checked_out(args)
    program = parse_file(programs.resolve(args.file))
    name = args.name or default_name(args.file, args.to)
    text = _EXPORTERS[args.to](program, name=name)
    notes = [memory_line(program)] + [h for h in [transfer_hint(program)] if h]
    for note in notes:
        print(f"{args.file}: {note}", file=sys.stderr)
    emit(text, out)
    return 0
