"""`symopt hash FILE...`: canonical hash and numeric fingerprint of programs."""

from __future__ import annotations

import os
import sys
from collections import defaultdict

from symopt import programs
from symopt.analysis import canonical_hash, fingerprint
from symopt.errors import ProgramError, UserError
from symopt.lang import parse_file

NAME = "hash"
HELP = ("print each program's canonical hash and numeric fingerprint; --group sorts "
        "programs into equivalence classes")


def add_arguments(parser) -> None:
    parser.add_argument("paths", nargs="+", metavar="FILE",
                        help=".prog files, built-in names (adamw, lion...) or folders "
                             "(their *.prog files)")
    parser.add_argument("--group", action="store_true",
                        help="group the programs into classes of equal fingerprint")


def _expand(paths: list[str]) -> list[tuple[str, str]]:
    """(as the user named it, the file to read) of every program given."""
    files: list[tuple[str, str]] = []
    for path in paths:
        if os.path.isdir(path):
            files.extend((f, f) for f in sorted(os.path.join(path, n) for n in os.listdir(path)
                                                if n.endswith(".prog")))
        elif os.path.lexists(path):
            files.append((path, path))
        else:  # a built-in name (`adamw`) or `programs/adamw.prog` outside a checkout
            resolved = programs.resolve(path)
            if not os.path.lexists(resolved):
                raise UserError(f"{path}: no such file, folder or built-in program "
                                f"(built-in: {', '.join(programs.names())})")
            files.append((path, str(resolved)))
    if not files:
        raise UserError(f"no .prog files in {', '.join(paths)}")
    return files


def run(args) -> int:
    status = 0
    classes: dict[str, list[str]] = defaultdict(list)
    for path, file in _expand(args.paths):
        try:
            program = parse_file(file)
        except ProgramError as err:
            print(err, file=sys.stderr)
            status = 2
            continue
        h, fp = canonical_hash(program), fingerprint(program)
        classes[fp].append(path)
        if not args.group:
            print(f"{path}  hash {h}  fingerprint {fp}")
    if args.group:
        for i, (fp, members) in enumerate(sorted(classes.items(), key=lambda kv: kv[1][0])):
            print(f"class {i + 1} (fingerprint {fp}): {len(members)} program"
                  f"{'' if len(members) == 1 else 's'}")
            for path in members:
                print(f"  {path}")
    return status
