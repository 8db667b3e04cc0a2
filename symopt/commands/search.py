"""`symopt search`: evolve optimizer programs from seed programs (see symopt.search.runner).

    symopt search --seed programs/adamw.prog --config search_configs/quick.toml --out runs/q
    symopt search --resume runs/q [--budget 400]

Ctrl-C once: stop generating, finish the training runs in flight, store them, write
best.prog and hall_of_fame.csv, print the summary and exit 130. Ctrl-C twice: stop
at once (in-flight work is lost; everything stored stays). A completed run exits 0.
"""

from __future__ import annotations

import math
import signal
import sys

from symopt.errors import UserError
from symopt.search.config import SearchConfig, load_config
from symopt.search.progress import make_progress
from symopt.search.runner import run_search

NAME = "search"
HELP = "evolve optimizer programs from seed programs (regularized evolution)"


def add_arguments(parser) -> None:
    parser.add_argument("--seed", action="append", default=[], metavar="PROG",
                        help="seed program: a .prog file or a built-in name such as adamw; "
                             "repeat for several")
    parser.add_argument("--config", metavar="TOML", help="search config (search_configs/*.toml)")
    parser.add_argument("--out", metavar="DIR", help="run directory (must not hold a run)")
    parser.add_argument("--resume", metavar="DIR", help="continue the run stored in DIR")
    parser.add_argument("--budget", type=int, help="override [search] budget (training runs)")
    parser.add_argument("--workers", type=int, help="override [search] workers")
    parser.add_argument("--random-seed", type=int, help="override [search] seed (new runs)")
    parser.add_argument("--progress", choices=("auto", "rich", "plain", "none"), default="auto",
                        help="live display (auto: rich on a terminal, else plain lines)")


def run(args) -> int:
    if args.resume:
        if args.seed or args.out or args.config:
            raise UserError("--resume DIR takes the seeds, config and directory of the "
                            "stored run; drop --seed/--config/--out")
        from symopt.search.store import RunStore
        store = RunStore.open(args.resume)
        config = SearchConfig.from_dict(store.config, source=f"{args.resume}/run.sqlite")
        store.close()
        run_dir = args.resume
    else:
        if not args.seed or not args.out:
            raise UserError("a new search needs --seed PROG and --out DIR (or --resume DIR)")
        config = load_config(args.config) if args.config else SearchConfig()
        run_dir = args.out
    overrides = {k: v for k, v in (("budget", args.budget), ("workers", args.workers))
                 if v is not None}
    if args.random_seed is not None:
        if args.resume:
            raise UserError("--random-seed cannot change a stored run")
        overrides["seed"] = args.random_seed
    if overrides:
        config = config.with_search(**overrides)

    stop = {"requested": False}

    def on_sigint(signum, frame):
        stop["requested"] = True
        print("\nsymopt: stopping after the evaluations in flight (Ctrl-C again to quit now)",
              file=sys.stderr)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        result = run_search(config, run_dir, seeds=args.seed, resume=bool(args.resume),
                            progress=make_progress(args.progress),
                            stop_requested=lambda: stop["requested"])
    finally:
        signal.signal(signal.SIGINT, previous)
    print(result.stats.summary())
    print(f"run stored in {result.run_dir} (best.prog, hall_of_fame.csv, run.sqlite)")
    best = result.best
    if best is not None and not math.isfinite(best.fitness):
        print(f"symopt: warning: no candidate trained successfully (the best is '{best.status}'"
              f"{': ' + best.message if best.message else ''}); check the task and the seed "
              f"with `symopt eval`", file=sys.stderr)
    return 130 if result.interrupted else 0
