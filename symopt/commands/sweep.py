"""`symopt sweep`: run a grid of config changes over several search seeds, keep lab notes.

    symopt sweep --config search_configs/quick.toml --vary search.population=8,16,32 \
        --seeds 3 --out sweeps/p [--vary task.overrides.steps=50,100] [--budget N]

Run 0 is the config as given; every other run changes the `--vary` keys. The same
command resumes a sweep (finished runs are skipped, an interrupted one continues).
Writes DIR/notes.md (a section per run and a Discussion), DIR/summary.csv and figures.
Ctrl-C stops after the training runs in flight, like `symopt search` (exit 130).
"""

from __future__ import annotations

import signal
import sys

from symopt import checks
from symopt.errors import UserError
from symopt.report.sweep import plan_sweep, run_sweep
from symopt.search.config.loading import SearchConfig, load_config

NAME = "sweep"
HELP = "run a grid of config changes over several seeds; write notes.md and a discussion"


def add_arguments(parser) -> None:
    parser.add_argument("--config", metavar="TOML", help="base search config (Run 0)")
    parser.add_argument("--vary", action="append", default=[], metavar="KEY=V1,V2",
                        help="a config key and its values, e.g. search.population=8,16,32 or "
                             "task.overrides.steps=50,100; repeat for a grid")
    parser.add_argument("--seeds", type=int, default=3,
                        help="search seeds per setting (default 3)")
    parser.add_argument("-o", "--out", metavar="DIR", required=True, help="sweep directory")
    parser.add_argument("--budget", type=int, help="training runs per run (overrides the config)")
    parser.add_argument("--program", action="append", default=[], metavar="PROG",
                        help="seed program(s) of every run: a .prog file or a built-in name "
                             "(default adamw)")
    parser.add_argument("--progress", choices=("auto", "rich", "plain", "none"), default="auto")


def run(args) -> int:
    if not args.vary:
        raise UserError("a sweep needs at least one --vary KEY=V1,V2")
    if len(args.program) > checks.MAX_LIST:
        raise UserError(f"--program: {len(args.program)} seed programs; at most "
                        f"{checks.MAX_LIST}")
    config = load_config(args.config) if args.config else SearchConfig()
    plan = plan_sweep(config, args.vary, args.seeds, budget=args.budget,
                      programs=args.program or ["adamw"],
                      source=args.config or "default config")
    stop = {"requested": False}

    def on_sigint(signum, frame):
        stop["requested"] = True
        print("\nsymopt: stopping the sweep after the training runs in flight (Ctrl-C again "
              "to quit now)", file=sys.stderr)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        result = run_sweep(plan, args.out, progress=args.progress,
                           stop_requested=lambda: stop["requested"])
    finally:
        signal.signal(signal.SIGINT, previous)
    print(f"{len(result.ran)} run(s) done now, {len(result.skipped)} skipped as finished")
    print(result.out / "notes.md")
    if not result.interrupted:
        from symopt.commands.writeup import command_for

        print(command_for(args.out))
    return 130 if result.interrupted else 0
