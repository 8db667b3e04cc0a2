"""`symopt hash FILE...`: canonical hash and numeric fingerprint of programs."""

from __future__ import annotations

import os
import sys
from collections import defaultdict

from symopt.analysis import canonical_hash, fingerprint
from symopt.errors import ProgramError, UserError
from symopt.lang import parse_file

NAME = "hash"
HELP = ("print each program's canonical hash and numeric fingerprint; --group sorts "
        "programs into equivalence classes")


def add_arguments(parser) -> None:
    parser.add_argument("paths", nargs="+", metavar="FILE",
                        help=".prog files, or folders (their *.prog files)")
    parser.add_argument("--group", action="store_true",
                        help="group the programs into classes of equal fingerprint")


def _expand(paths: list[str]) -> list[str]:
    files = []
    for path in paths:
        if os.path.isdir(path):
            files.extend(sorted(os.path.join(path, n) for n in os.listdir(path)
                                if n.endswith(".prog")))
        elif os.path.exists(path):
            files.append(path)
        else:
            raise UserError(f"{path}: no such file or folder")
    if not files:
        raise UserError(f"no .prog files in {', '.join(paths)}")
    return files


def run(args) -> int:
    status = 0
    classes: dict[str, list[str]] = defaultdict(list)
    for path in _expand(args.paths):
        try:
            program = parse_file(path)
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
