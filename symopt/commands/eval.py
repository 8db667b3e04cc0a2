"""`symopt eval PROG... --task T`: train with each program on a task, compare the losses."""

from __future__ import annotations

import json
import os
from pathlib import Path

from symopt import checks, files, programs
from symopt.errors import UserError

NAME = "eval"
HELP = "train a task with each program as the optimizer and compare validation losses"


def add_arguments(parser) -> None:
    parser.add_argument("programs", metavar="PROG", nargs="+",
                        help="a .prog file, a built-in program (e.g. lion), or optax:NAME "
                             "for an optax optimizer (e.g. optax:adamw)")
    parser.add_argument("--task", default="nanogpt-tiny", help="task name (default nanogpt-tiny)")
    parser.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1 (default 1)")
    parser.add_argument("--baseline", metavar="PROG", help="program the ratios are relative to")
    parser.add_argument("--json", metavar="OUT", help="write everything as JSON here")
    parser.add_argument("--plot", metavar="OUT.png", help="write validation-loss curves here")
    parser.add_argument("--steps", type=int, help="override the task's number of steps")
    parser.add_argument("--lr-mult", metavar="M,M,...",
                        help="learning-rate multipliers to try, best kept (default: the task's)")
    parser.add_argument("--time-limit", type=float, metavar="S",
                        help="wall-clock limit per evaluation, seconds, compilation included "
                             "(each evaluation then runs in a worker process stopped at the "
                             "limit; a crash of it, e.g. out of memory, is that run's error)")
    parser.add_argument("--engine", choices=checks.ENGINES, default=checks.DEFAULT_ENGINE,
                        help="how programs run: one compiled interpreter per size class "
                             "(interpreted, the default: no compile per program) or one "
                             "compile per program (compiled)")


def load_optimizer(spec: str, engine: checks.Engine = checks.DEFAULT_ENGINE):
    """``make_tx`` for a ``.prog`` path or built-in name (run by `engine`) or ``optax:NAME``.

    >>> load_optimizer("lion", "compiled").engine
    'compiled'
    """
    if spec.startswith("optax:"):
        from symopt.tasks.optax_names import optax_factory

        return optax_factory(spec[len("optax:"):])
    path = programs.resolve(spec)
    if _missing(path):
        raise UserError(f"{spec}: no such program file or built-in program "
                        f"(built-in: {', '.join(programs.names())})")
    from symopt.lang import parse_file
    from symopt.tasks.engine import ProgramOptimizer

    return ProgramOptimizer(parse_file(str(path)), engine)


def _missing(path) -> bool:
    """No such file (a name the system refuses, e.g. too long, is left to the reader,
    whose error says so)."""
    try:
        os.lstat(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return False


def program_notes(spec: str) -> list[str]:
    """What `symopt eval` says about a program besides its losses: memory, transfer hint.

    >>> program_notes("lion")[0]
    'optimizer memory: 1 state value per parameter'
    >>> program_notes("optax:adamw")
    []
    """
    if spec.startswith("optax:"):
        return []
    from symopt.analysis.hints import transfer_hint
    from symopt.lang import parse_file
    from symopt.lang.dead_code import memory_line

    program = parse_file(programs.resolve(spec))
    hint = transfer_hint(program)
    return [memory_line(program)] + ([hint] if hint else [])


def _names(specs: list[str]) -> list[str]:
    stems = [s if s.startswith("optax:") else Path(s).stem for s in specs]
    return [stem if stems.count(stem) == 1 else spec for stem, spec in zip(stems, specs)]


def _multipliers(text: str | None):
    if text is None:
        return None
    items = text.split(",")
    if len(items) > checks.MAX_LR_MULTIPLIERS:
        raise UserError(f"--lr-mult: {len(items)} multipliers; at most "
                        f"{checks.MAX_LR_MULTIPLIERS}")
    try:
        out = [float(x) for x in items]
    except ValueError:
        raise UserError(f"--lr-mult: expected numbers separated by commas (no empty item), "
                        f"got {text[:80]!r}") from None
    return list(checks.lr_multipliers(out, "--lr-mult"))


def _check_output(flag: str, path: str | None, plot: bool = False) -> None:
    """Fail now, before any training, if `path` cannot take the result later (writes
    nothing: the folder is created only when the result is written)."""
    if path is None:
        return
    target = files.output_file(path, flag)
    if plot and target.suffix:
        from matplotlib.backend_bases import FigureCanvasBase

        formats = FigureCanvasBase.get_supported_filetypes()
        if target.suffix[1:].lower() not in formats:
            raise UserError(f"{flag} {path}: unknown image format {target.suffix!r} "
                            f"(use one of {', '.join('.' + f for f in sorted(formats))})")


def _write(flag: str, path: str, write) -> None:
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write()
    except OSError as err:
        raise UserError(f"{flag} {path}: cannot write: {err.strerror or err}") from None


def run(args) -> int:
    from rich.console import Console

    from symopt.report.eval_report import comparison_table, plot_curves
    from symopt.tasks import get_task
    from symopt.tasks.compare import compare

    checks.bounded(args.seeds, 1, checks.MAX_SEEDS, "--seeds")
    if args.steps is not None:
        checks.bounded(args.steps, 1, checks.MAX_STEPS, "--steps")
    if len(args.programs) > checks.MAX_PROGRAMS:
        raise UserError(f"{len(args.programs)} programs; eval compares at most "
                        f"{checks.MAX_PROGRAMS}")
    checks.time_limit(args.time_limit, "--time-limit")
    mults = _multipliers(args.lr_mult)
    _check_output("--json", args.json)
    _check_output("--plot", args.plot, plot=True)
    specs = list(dict.fromkeys(args.programs))
    if args.baseline and args.baseline not in specs:
        specs.append(args.baseline)
    names = _names(specs)
    overrides = {} if args.steps is None else {"steps": args.steps}
    task = get_task(args.task, **overrides)
    optimizers = {name: load_optimizer(spec, args.engine) for name, spec in zip(names, specs)}
    baseline = names[specs.index(args.baseline)] if args.baseline else None

    console = Console(stderr=True)

    def progress(name, r):
        console.print(f"[dim]{name} seed {r.seed}: {r.status} val loss {r.final_loss:.4f} "
                      f"(compile {r.compile_s:.1f}s, run {r.run_s:.1f}s)[/dim]")

    comp = compare(optimizers, task, seeds=args.seeds, baseline=baseline, lr_multipliers=mults,
                   time_limit_s=args.time_limit, progress=progress,
                   isolate=args.time_limit is not None)
    out_console = Console()
    if not out_console.is_terminal:  # files and pipes get the whole table
        out_console = Console(width=140)
    out_console.print(comparison_table(comp))
    for name, spec in zip(names, specs):
        for line in program_notes(spec):
            out_console.print(f"{name}: {line}", soft_wrap=True)
    if args.json:
        out = comp.to_dict()
        out["programs_files"] = dict(zip(names, specs))
        _write("--json", args.json,
               lambda: Path(args.json).write_text(json.dumps(out, indent=1) + "\n"))
    if args.plot:
        _write("--plot", args.plot, lambda: plot_curves(comp, args.plot))
    return 0
