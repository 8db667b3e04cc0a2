"""Where a search spent its compute, and what its mutation operators earned.

`compute_shares` splits the training steps of a run's stored candidates by where they
went: children (and seeds) that finished, diverged, stopped at a hurdle, the
learning-rate probes' multipliers that were not kept, and anything else (timeouts,
errors). `operators_section` is the report's section: that table, the operators' table
(children, how many beat their parent, final weight; from the store's `operators`
table) and a figure of the weights over the run (`report_operator_weights.png`, its CSV beside).

>>> from symopt.search.storage.schema import CandidateRecord as C
>>> compute_shares([C("p", status="ok", steps=300, probe_steps=100),
...                 C("q", status="diverged", steps=100), C("r", cache_hit=True)])
{'finished': 0.5, 'diverged': 0.25, 'hurdle': 0.0, 'probe': 0.25, 'other': 0.0}
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from symopt.report.figures import figure
from symopt.report.notes import md_table
from symopt.search.storage.schema import CandidateRecord
from symopt.search.storage.store import RunStore

CLASSES = ("finished", "diverged", "hurdle", "probe", "other")


def compute_steps(records: Sequence[CandidateRecord]) -> dict[str, int]:
    """Training steps by class (see the module docstring)."""
    out = dict.fromkeys(CLASSES, 0)
    for r in records:
        kind = r.status if r.status in ("diverged", "hurdle") else (
            "finished" if r.status == "ok" else "other")
        out[kind] += r.steps - r.probe_steps
        out["probe"] += r.probe_steps
    return out


def compute_shares(records: Sequence[CandidateRecord]) -> dict[str, float]:
    """`compute_steps` as fractions of all steps (zeros when nothing trained)."""
    steps = compute_steps(records)
    total = sum(steps.values())
    return {k: (n / total if total else 0.0) for k, n in steps.items()}


def operators_section(run_dir: str | Path, records: Sequence[CandidateRecord]) -> str:
    """The report's section on compute and operators (Markdown; writes the figure)."""
    run_dir = Path(run_dir)
    steps = compute_steps(records)
    total = sum(steps.values())
    lines = ["## Where the compute went", "",
             f"{total} training steps in all (every task seed and learning-rate multiplier; "
             "cache hits cost none).", "",
             md_table(["spent on", "steps", "share"],
                      [(k if k != "probe" else "probes (multipliers not kept)", n,
                        f"{100 * n / total:.1f}%" if total else "-")
                       for k, n in steps.items()])]
    store = RunStore.open(run_dir)
    try:
        rows = store.operator_stats()
    finally:
        store.close()
    if not rows:
        return "\n".join(lines)
    last = max(r[0] for r in rows)
    final = [r for r in rows if r[0] == last]
    lines += ["", "## Mutation operators", "",
              f"As of candidate {last} (weights: the probability of each operator; they follow "
              "the credit of their children unless `[mutation] adapt = false`).", "",
              md_table(["operator", "children", "beat their parent", "success rate",
                        "final weight"],
                       [(op, c, k, f"{100 * k / c:.0f}%" if c else "-", f"{w:.3f}")
                        for _, op, c, k, w in final])]
    ops = [op for _, op, *_ in final]
    columns: dict[str, list] = {"after_candidate": sorted({r[0] for r in rows})}
    for op in ops:
        by_id = {r[0]: r[4] for r in rows if r[1] == op}
        columns[op] = [by_id.get(i, float("nan")) for i in columns["after_candidate"]]

    def draw(ax, d):
        for op in ops:
            ax.plot(d["after_candidate"], d[op], "o-", markersize=3, label=op)
        ax.set_xlabel("candidate")
        ax.set_ylabel("operator weight")
        ax.legend(fontsize=8)

    path = figure(run_dir / "report_operator_weights.png", columns, draw)
    lines += ["", f"![operator weights]({path.relative_to(run_dir).as_posix()})"]
    return "\n".join(lines)
