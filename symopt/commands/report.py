"""`symopt report`: notes, tables and figures of a run, a sweep or a tuning directory.

    symopt report runs/q          # runs/q/report.md + report_*.png (and their data as CSV)
    symopt report sweeps/p        # regenerates sweeps/p/notes.md, summary.csv, figures

Run it again after a resume: the report is regenerated and keeps what you wrote
between `<!-- notes -->` and `<!-- /notes -->`.
"""

from __future__ import annotations

from symopt.errors import UserError
from symopt.report.report import write_report

NAME = "report"
HELP = "write report.md and figures for a run (or notes.md for a sweep)"


def add_arguments(parser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a search run, sweep or tune directory")
    parser.add_argument("--no-curves", action="store_true",
                        help="do not train the seed and best program to draw validation curves "
                             "(curves already stored are still drawn)")


def run(args) -> int:
    from symopt.commands.writeup import command_for

    try:
        path = write_report(args.run_dir, curves=not args.no_curves)
    except OSError as err:  # a full disk or a read-only directory while writing figures
        where = err.filename or args.run_dir
        raise UserError(f"{where}: cannot write the report: {err.strerror or err}; the run "
                        f"itself is unchanged") from None
    print(path)
    if path.name != "report.md" or (path.parent / "run.sqlite").is_file():
        print(command_for(args.run_dir))
    return 0
