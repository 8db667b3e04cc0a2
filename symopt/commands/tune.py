"""`symopt tune PROG --task TASK --method ga|pbt|random --budget N --out DIR`.

    symopt tune programs/lion.prog --task nanogpt-tiny --method ga --budget 20 --out runs/t
    symopt tune programs/lion.prog --config tune.toml --out runs/t     # a [tune] table
    symopt tune --resume runs/t                                        # after a kill
    symopt tune programs/lion.prog --task nanogpt-tiny --show-space    # the genes

Writes DIR/tuned.prog (best constants; lr and task settings in its header),
DIR/trials.csv, DIR/fitness.png, and for PBT DIR/pbt_events.csv and DIR/schedules.png.
"""

from __future__ import annotations

import argparse
import sys

from symopt import files, programs
from symopt.errors import UserError, deprecated
from symopt.lang import parse_file

NAME = "tune"
HELP = "tune a program's constants, learning rate and task settings (GA, PBT, random)"


def add_arguments(parser) -> None:
    parser.add_argument("program", nargs="?", metavar="PROG",
                        help="the program: a .prog file or a built-in name (lion, adamw, ...)")
    parser.add_argument("--task", help="the task to tune on (e.g. nanogpt-tiny, quadratic)")
    parser.add_argument("--method", choices=("ga", "pbt", "random"),
                        help="ga (default), pbt (Ray Tune) or random search")
    parser.add_argument("--budget", type=int, help="training runs (PBT: population size)")
    parser.add_argument("-o", "--out", metavar="DIR", help="the tuning directory")
    parser.add_argument("--config", metavar="TOML", help="a config with a [tune] table")
    parser.add_argument("--resume", metavar="DIR", help="continue the tuning run in DIR")
    parser.add_argument("--search-seed", type=int, metavar="N",
                        help="the tuner's random seed ([tune] seed)")
    parser.add_argument("--seed", type=int, dest="old_search_seed", help=argparse.SUPPRESS)
    parser.add_argument("--show-space", action="store_true",
                        help="print the search space (keys for [tune.space]) and exit")
    parser.add_argument("--quiet", action="store_true", help="no line per trial")


def run(args) -> int:
    from symopt.tune import TuneConfig, load_tune_config, run_tune

    if args.resume:
        if args.program or args.out or args.config or args.task or args.method or args.budget:
            raise UserError("--resume DIR takes the program and settings stored in DIR; "
                            "drop the other arguments")
        result = run_tune(None, None, args.resume, resume=True, progress=_say(args))
    else:
        if not args.program or not (args.out or args.show_space):
            raise UserError("tune needs PROG and --out DIR (or --resume DIR)")
        if args.out:
            files.output_dir(args.out, "--out")
        program = parse_file(programs.resolve(args.program))
        cfg = load_tune_config(args.config) if args.config else TuneConfig()
        if args.old_search_seed is not None:
            deprecated("tune --seed", "tune --search-seed")
            if args.search_seed is None:
                args.search_seed = args.old_search_seed
        changes = {k: v for k, v in (("task", args.task), ("method", args.method),
                                     ("budget", args.budget), ("random_seed", args.search_seed))
                   if v is not None}
        if changes:
            cfg = cfg.replace(**changes)
        if args.show_space:
            from symopt.tune.api import setup
            from symopt.tune.space import describe_space

            print(describe_space(setup(program, cfg)[1], program))
            return 0
        result = run_tune(program, cfg, args.out, progress=_say(args))
    print(result.summary())
    print(f"tuned program: {result.run_dir / 'tuned.prog'} (trials.csv, fitness.png"
          + (", pbt_events.csv, schedules.png" if result.method == "pbt" else "") + ")")
    return 0


def _say(args):
    if args.quiet:
        return None
    return lambda line: print(line, file=sys.stderr, flush=True)
