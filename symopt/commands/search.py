"""`symopt search`: evolve optimizer programs from seed programs (see symopt.search.evolution.loop).

    symopt search --seed programs/adamw.prog        # the default: nanogpt-tiny, ~15 min
    symopt search --seed adamw --config quick --out runs/q    # built-in names work anywhere
    symopt search --seed adamw --budget 20 --set funnel.*.top_k=1   # any config key
    symopt search --resume runs/q [--budget 400]
    symopt search --seed programs/adamw.prog --executor ray [--address HOST:PORT] --out runs/r

Without --config, the built-in `default` config (`search_configs/default.toml` in a
checkout, shipped with the package: the nanogpt-tiny proxy and a funnel on nanogpt-small
and vit-tiny); without --out, `runs/<seed name>-<YYYYmmdd-HHMMSS>`. `--set KEY=VALUE`
changes any config key of a new run (`symopt.search.config.settings`), e.g.
`task.overrides.steps=50` or `funnel.2.top_k=1` (`funnel.*.…`: every stage).

Ctrl-C once: stop generating, finish the training runs in flight, store them, write
best.prog and hall_of_fame.csv, print the summary and exit 130. Ctrl-C twice: stop
at once (in-flight work is lost; everything stored stays). A completed run exits 0.
A search that is stuck (mutation makes no new valid child, even after a restart from
the seeds; see `[search] stall_after` and `on_stall`) stops with everything stored,
says why and exits 3; so does a search whose seed fails to train (every seed
evaluation failed, e.g. "the seed timed out at 120 s: raise [task] time_limit_s"): it
stops at once, before any child. A run directory in use by another process is refused (exit 2,
naming that process; see `symopt.search.storage.runlock`).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from symopt import checks
from symopt.errors import UserError, deprecated
from symopt.search.config.loading import SearchConfig, default_config_path, load_config
from symopt.search.config.settings import apply_settings
from symopt.search.evolution.loop import run_search
from symopt.search.evolution.progress import make_progress
from symopt.search.execution.interrupt import stop_on_sigint

NAME = "search"
HELP = "evolve optimizer programs from seed programs (regularized evolution)"


def add_arguments(parser) -> None:
    parser.add_argument("--seed", action="append", default=[], metavar="PROG",
                        help="seed program: a .prog file or a built-in name such as adamw; "
                             "repeat for several")
    parser.add_argument("--config", metavar="TOML", help="search config: a TOML file or a "
                        "built-in name (default, quick, nanogpt_tiny, paper; default: default)")
    parser.add_argument("-o", "--out", metavar="DIR", help="run directory (must not hold a run; "
                        "default: runs/<seed name>-<YYYYmmdd-HHMMSS>)")
    parser.add_argument("--resume", metavar="DIR", help="continue the run stored in DIR")
    parser.add_argument("--from-good-snapshot", action="store_true",
                        help="with --resume: if the latest population snapshot is corrupt, "
                             "continue from the last good one (the store keeps them all)")
    parser.add_argument("--budget", type=int, help="override [search] budget (training "
                        "runs or steps: [search] budget_unit)")
    parser.add_argument("--workers", type=int, help="override [search] workers")
    parser.add_argument("--executor", choices=("inline", "process", "ray"),
                        help="override [executor] kind (ray: warm Ray actors, local or a cluster)")
    parser.add_argument("--address", metavar="ADDR",
                        help="override [executor] address: '' (start a local Ray), 'auto', "
                             "HOST:PORT or ray://HOST:PORT (an existing cluster)")
    parser.add_argument("--search-seed", type=int, metavar="N",
                        help="override [search] random_seed, the search's random seed (new runs)")
    parser.add_argument("--random-seed", type=int, dest="old_search_seed", help=argparse.SUPPRESS)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="change a config key of a new run, e.g. task.overrides.steps=50, "
                             "funnel.1.top_k=2 or funnel.*.lr_multipliers=[1.0]; repeatable")
    parser.add_argument("--no-funnel", action="store_true",
                        help="skip the [[funnel]] stages (run them later: symopt funnel DIR)")
    parser.add_argument("--progress", choices=("auto", "rich", "plain", "none"), default="auto",
                        help="live display (auto: rich on a terminal, else plain lines)")


def run(args) -> int:
    if args.from_good_snapshot and not args.resume:
        raise UserError("--from-good-snapshot only applies to --resume DIR")
    if args.resume:
        if args.seed or args.out or args.config or args.set:
            raise UserError("--resume DIR takes the seeds, config and directory of the "
                            "stored run; drop --seed/--config/--set/--out")
        from symopt.search.storage.store import RunStore
        store = RunStore.open(args.resume)
        config = SearchConfig.from_dict(store.config, source=f"{args.resume}/run.sqlite")
        store.close()
        run_dir = args.resume
    else:
        if not args.seed:
            raise UserError("a new search needs --seed PROG (or --resume DIR)")
        if len(args.seed) > checks.MAX_LIST:
            raise UserError(f"--seed: {len(args.seed)} seed programs; at most {checks.MAX_LIST}")
        config = apply_settings(load_config(args.config or default_config_path()), args.set)
        run_dir = args.out or default_run_dir(args.seed[0])
    overrides = {k: v for k, v in (("budget", args.budget), ("workers", args.workers))
                 if v is not None}
    if args.old_search_seed is not None:
        deprecated("--random-seed", "--search-seed")
        if args.search_seed is None:
            args.search_seed = args.old_search_seed
    if args.search_seed is not None:
        if args.resume:
            raise UserError("--search-seed cannot change a stored run")
        overrides["random_seed"] = args.search_seed
    if overrides:
        config = config.with_search(**overrides)
    executor = {k: v for k, v in (("kind", args.executor), ("address", args.address))
                if v is not None}
    if executor:
        config = config.with_executor(**executor)

    print(f"symopt search: run directory {run_dir} (task {config.task.name}, budget "
          f"{config.search.budget} training {config.search.budget_unit}, method "
          f"{config.search.method})", flush=True)
    with stop_on_sigint() as stop_requested:
        result = run_search(config, run_dir, seeds=args.seed, resume=bool(args.resume),
                            progress=make_progress(args.progress),
                            stop_requested=stop_requested,
                            run_funnel_after=not args.no_funnel,
                            funnel_log=lambda line: print(line, file=sys.stderr, flush=True),
                            from_good_snapshot=args.from_good_snapshot)
    print(result.stats.summary())
    if result.funnel is not None:
        print(result.funnel.summary())
    elif config.funnel and not result.interrupted:
        print(f"funnel skipped (--no-funnel): run it with `symopt funnel {result.run_dir}`")
    outputs = "best.prog, hall_of_fame.csv, " + ("funnel.csv, " if result.funnel else "")
    print(f"run stored in {result.run_dir} ({outputs}run.sqlite)")
    best = result.best
    if result.seed_failed:
        print(f"symopt: search stopped: {result.seed_failed}", file=sys.stderr)
        return 3
    if best is not None and not math.isfinite(best.fitness):
        print(f"symopt: warning: no candidate trained successfully (the best is '{best.status}'"
              f"{': ' + best.message if best.message else ''}); check the task and the seed "
              f"with `symopt eval`", file=sys.stderr)
    if result.stalled:
        print(f"symopt: search stopped: {result.stats.stop_reason}", file=sys.stderr)
        return 3
    return 130 if result.interrupted else 0


def default_run_dir(seed_path: str, now: float | None = None) -> str:
    """`runs/<seed name>-<YYYYmmdd-HHMMSS>` (local time), e.g. for a new search without --out.

    >>> default_run_dir("programs/adamw.prog", now=0.0).startswith("runs/adamw-19")
    True
    """
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() if now is None else now))
    return str(Path("runs") / f"{Path(seed_path).stem}-{stamp}")
