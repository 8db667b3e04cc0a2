"""`symopt funnel`: re-check a search's best candidates against its seed on bigger and
other tasks (see symopt.search.funnel).

    symopt funnel runs/a                         # the run's own [[funnel]] stages
    symopt funnel runs/q --config search_configs/default.toml   # the stages of a config

Writes funnel.csv and best.prog in the run directory and stores every evaluation in its
run.sqlite (a rerun reuses them). Ctrl-C: stop, keep what was measured, exit 130.
"""

from __future__ import annotations

import signal
import sys

from symopt.errors import UserError
from symopt.search.config.loading import load_config
from symopt.search.funnel import run_funnel

NAME = "funnel"
HELP = "re-evaluate a run's top candidates and its seed on the [[funnel]] stages"


def add_arguments(parser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a search's run directory")
    parser.add_argument("--config", metavar="TOML",
                        help="take the [[funnel]] stages from this config (default: the run's)")
    parser.add_argument("--workers", type=int, help="training runs in flight (default: the "
                        "run's [search] workers)")


def run(args) -> int:
    stages = None
    if args.config:
        stages = load_config(args.config).funnel
        if not stages:
            raise UserError(f"{args.config}: has no [[funnel]] stages")
    if args.workers is not None and args.workers < 1:
        raise UserError("--workers: must be at least 1")
    stop = {"requested": False}

    def on_sigint(signum, frame):
        stop["requested"] = True
        print("\nsymopt: stopping after the evaluations in flight (Ctrl-C again to quit now)",
              file=sys.stderr)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        result = run_funnel(args.run_dir, stages=stages, workers=args.workers,
                            log=lambda line: print(line, file=sys.stderr, flush=True),
                            stop_requested=lambda: stop["requested"])
    finally:
        signal.signal(signal.SIGINT, previous)
    print(result.summary())
    if not result.interrupted:
        print(f"written: {result.run_dir}/funnel.csv, {result.run_dir}/best.prog")
    return 130 if result.interrupted else 0
