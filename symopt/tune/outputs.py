"""What a tuning run writes: tuned.prog, trials.csv, plots, pbt_events.csv.

``tuned.prog`` is the program with the best constants written in; its header says how
it was tuned and holds one machine-readable line ``# tune: key=value ...`` with the
learning-rate multiplier, the learning rate, the warmup steps and the task settings.
Files are written to a temporary name and renamed, so a kill never leaves half a file.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from itertools import accumulate
from pathlib import Path
from typing import Any

from symopt.lang.model import Program
from symopt.lang.printer import to_text
from symopt.search.storage.store import write_atomic
from symopt.tasks.base import Task
from symopt.tune.space import Space


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "inf" if math.isinf(v) else f"{v:.6g}"
    return str(v)


def tuned_program(program: Program, space: Space, values: Mapping[str, float], task: Task,
                  *, method: str, fitness: float, untuned: float) -> Program:
    """`program` with the constants of `values` and a header describing the tuning.

    >>> from symopt.tasks import get_task
    >>> from symopt.tune.space import build_space
    >>> from symopt import programs
    >>> p, t = programs.load("lion"), get_task("quadratic")
    >>> s = build_space(p, t)
    >>> v = {**s.defaults(), "c1": 0.2, "lr_multiplier": 0.5}
    >>> q = tuned_program(p, s, v, t, method="ga", fitness=0.1, untuned=0.3)
    >>> q.constants(), q.header.splitlines()[-1]
    ([0.9, 0.2, 0.2, 0.99], '# tune: lr_multiplier=0.5 lr=0.025 warmup_steps=5 task=quadratic')
    """
    settings = {"lr_multiplier": values["lr_multiplier"],
                "lr": task.base_lr * values["lr_multiplier"],
                "warmup_steps": int(values["warmup_steps"]),
                **space.task_overrides(values), "task": task.name}
    lines = [line for line in program.header.splitlines() if not line.startswith("# tune")]
    lines += [
        f"# tuned by `symopt tune --method {method}` on {task.name}: validation loss "
        f"{_fmt(fitness)} (untuned {_fmt(untuned)}).",
        f"# tuned lr: {_fmt(settings['lr'])} = base_lr {_fmt(task.base_lr)} x "
        f"{_fmt(values['lr_multiplier'])}; train with this learning rate.",
        "# tune: " + " ".join(f"{k}={_fmt(v)}" for k, v in settings.items()),
    ]
    return space.apply(program, values).replace(header="\n".join(lines))


def write_tuned(path: Path, program: Program) -> None:
    write_atomic(path, to_text(program))


def csv_text(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """CSV text of `rows` under `header` (floats to 6 significant digits, `csv`'s
    CRLF line ends).

    >>> csv_text(["trial", "fitness", "message"], [[0, 0.1234567, "a, b"], [1, math.inf, ""]])
    'trial,fitness,message\\r\\n0,0.123457,"a, b"\\r\\n1,inf,\\r\\n'
    """
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows([[_fmt(x) for x in r] for r in rows])
    return buf.getvalue()


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    write_atomic(path, csv_text(header, rows))


def trials_rows(space: Space, records: Sequence[Mapping[str, Any]]) -> tuple[list, list]:
    """``trials.csv``: method, trial, generation (PBT: iteration), every gene, fitness,
    status. `records` hold those keys, with the genes under ``values``."""
    keys = list(space.keys)
    header = ["method", "trial", "generation", *keys, "fitness", "status", "message"]
    rows = [[r["method"], r["trial"], r["generation"], *(r["values"][k] for k in keys),
             r["fitness"], r["status"], r.get("message", "")] for r in records]
    return header, rows


def plot_fitness(path: Path, records: Sequence[Mapping[str, Any]], untuned: float,
                 title: str) -> None:
    """Fitness of every trial in order, the running best, and the untuned program."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    fit = [r["fitness"] for r in records]
    xs = list(range(len(fit)))
    finite = [(x, f) for x, f in zip(xs, fit) if math.isfinite(f)]
    if finite:
        ax.scatter(*zip(*finite), s=12, label="trial")
        best = list(accumulate(fit, min, initial=math.inf))[1:]
        ax.plot(xs, [b if math.isfinite(b) else math.nan for b in best], color="C1",
                label="best so far")
    if math.isfinite(untuned):
        ax.axhline(untuned, color="gray", ls="--", label="untuned")
    ax.set_xlabel("trial (PBT: member x iteration)")
    ax.set_ylabel("validation loss")
    ax.set_yscale("log" if finite and min(f for _, f in finite) > 0 else "linear")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_schedules(path: Path, space: Space, series: Mapping[str, Sequence[Mapping[str, Any]]],
                   best: str) -> None:
    """One panel per searched hyperparameter: its value over PBT iterations, per member."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    genes = [g for g in space.searched if g.group != "task"] or list(space.searched)
    n = max(1, len(genes))
    fig, axes = plt.subplots(n, 1, figsize=(7, 2.2 * n), sharex=True, squeeze=False)
    for ax, g in zip(axes[:, 0], genes):
        for trial, rows in series.items():
            xs = [r["generation"] for r in rows]
            ys = [r["values"][g.key] for r in rows]
            ax.step(xs, ys, where="post", lw=2.5 if trial == best else 0.8,
                    color="C3" if trial == best else "gray", alpha=1 if trial == best else 0.6)
        ax.set_ylabel(g.key)
        if g.scale in ("log", "log1m"):
            ax.set_yscale("log")
    axes[-1, 0].set_xlabel("PBT iteration (red: the best member)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
