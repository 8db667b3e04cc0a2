"""Rendering of a :class:`symopt.tasks.compare.Comparison`: a rich table and a PNG of curves."""

from __future__ import annotations

import math
from pathlib import Path

from rich.table import Table

from symopt.tasks.compare import Comparison


def _fmt(x: float | None, spec: str = ".4f") -> str:
    return "-" if x is None or not math.isfinite(x) else format(x, spec)


def comparison_table(comp: Comparison) -> Table:
    """A rich table: one row per program (mean ± std validation loss, ratio to baseline).

    >>> import optax
    >>> from symopt.tasks.compare import compare
    >>> c = compare({"adam": lambda lr: optax.adam(lr)}, "quadratic", baseline="adam")
    >>> comparison_table(c).row_count
    1
    """
    title = f"validation loss on {comp.task} ({len(comp.seeds)} seed(s))"
    table = Table(title=title)
    for col in ("program", "ok", "val loss", "best", "ratio", "lr×", "compile s", "run s",
                "steps/s"):
        table.add_column(col, justify="left" if col == "program" else "right",
                         no_wrap=col in ("program", "val loss"))
    for p in comp.programs:
        rs = p.results
        n = len(rs)
        mean = lambda xs: sum(xs) / len(xs) if xs else math.nan
        statuses = sorted({r.status for r in rs if not r.ok})
        ok = f"{p.n_ok}/{n}" + (f" ({', '.join(statuses)})" if statuses else "")
        loss = "inf" if not math.isfinite(p.mean) else f"{p.mean:.4f} ± {p.std:.4f}"
        ratio = "-" if p.ratio is None else _fmt(p.ratio, ".3f")
        table.add_row(
            p.name, ok, loss, _fmt(min(r.best_loss for r in rs)), ratio,
            ",".join(sorted({f"{r.lr_multiplier:g}" for r in rs})),
            _fmt(mean([r.compile_s for r in rs]), ".2f"), _fmt(mean([r.run_s for r in rs]), ".2f"),
            _fmt(mean([r.steps_per_s for r in rs]), ".1f"),
        )
    return table


def plot_curves(comp: Comparison, path: str | Path) -> Path:
    """Validation-loss curves (thin: each seed; thick: the mean) written as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, p in enumerate(comp.programs):
        color = colors[i % len(colors)]
        curves = [(r.eval_steps, r.curve) for r in p.results if r.curve]
        for steps, curve in curves:
            ax.plot(steps, curve, color=color, alpha=0.3, lw=1)
        full = [c for s, c in curves if len(c) == max(len(c2) for _, c2 in curves)]
        if full:
            steps = next(s for s, c in curves if len(c) == len(full[0]))
            meancurve = [sum(v) / len(v) for v in zip(*full)]
            ax.plot(steps, meancurve, color=color, lw=2.2, label=p.name)
    ax.set_xlabel("step")
    ax.set_ylabel("validation loss")
    ax.set_title(f"{comp.task}")
    ax.grid(alpha=0.3)
    if comp.programs:
        ax.legend()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
