"""`symopt writeup`: a short paper (PDF) of a search run or a sweep, written by fixed rules.

    symopt writeup runs/q                    # runs/q/paper/paper.pdf and paper.typ
    symopt writeup sweeps/p -o paper --format all   # also paper.tex (LaTeX, algorithm block)

Every sentence is generated from the run's store (or the sweep's summary) by a rule; the
figures are regenerated first, as `symopt report` does. Typeset offline with Typst.
"""

from __future__ import annotations

from symopt.report.typeset import FORMATS
from symopt.report.writeup import write_writeup

NAME = "writeup"
HELP = "write a short paper (PDF via Typst, or LaTeX) of a run or a sweep"


def add_arguments(parser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR|SWEEP_DIR",
                        help="a search run or a sweep directory")
    parser.add_argument("-o", "--out", metavar="OUT_DIR",
                        help="where the paper goes (default RUN_DIR/paper)")
    parser.add_argument("--format", choices=FORMATS, default="pdf",
                        help="pdf: paper.pdf and its Typst source (default); typst: the source "
                             "only; latex: paper.tex; all: the three")
    parser.add_argument("--no-curves", action="store_true",
                        help="do not train the seed and best program to draw validation curves")


def run(args) -> int:
    for path in write_writeup(args.run_dir, args.out, args.format, curves=not args.no_curves):
        print(path)
    return 0


def command_for(path) -> str:
    """The line `symopt report` and `symopt sweep` print at their end.

    >>> command_for("runs/q")
    'write it up: symopt writeup runs/q'
    """
    return f"write it up: symopt writeup {path}"
