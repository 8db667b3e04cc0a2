"""Optional results a run directory may hold: the funnel and tuning trials.

The funnel (re-evaluation of the best candidates on larger tasks) is read from the
`funnel` table of `run.sqlite` or from `funnel.csv`; tuning trials from `trials.csv`.
Their columns are shown as they are, so the report follows whatever those writers
store; a directory without them gets no section.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "trials.csv").write_text("trial,fitness,b1\\n0,0.5,0.9\\n1,0.25,0.95\\n")
>>> print(trials_summary(d).splitlines()[2])
2 trials in `trials.csv`; the best (lowest `fitness`) is trial 1: 0.25.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from symopt.report.figures import figure, finite
from symopt.report.notes import md_table
from symopt.search.storage.store import STORE_NAME, RunStore

#: Funnel columns shown (in this order) when the funnel has them.
FUNNEL_COLUMNS = ("stage", "task", "candidate_id", "is_seed", "fitness", "seed_fitness",
                  "passed", "status")
#: Columns taken as the objective of a trial, first match wins (lower is better).
OBJECTIVES = ("fitness", "val_loss", "loss", "objective", "score")


def read_csv(path: Path) -> pd.DataFrame:
    """A CSV as written: every cell a string, empty cells empty (not NaN)."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:  # not even a header
        return pd.DataFrame()


def funnel_rows(run_dir: Path) -> pd.DataFrame | None:
    """The funnel's rows: the store's `funnel` table, else `funnel.csv`, else None."""
    if (run_dir / STORE_NAME).is_file():
        store = RunStore.open(run_dir)
        try:
            rows = store.table("funnel")
        finally:
            store.close()
        if rows:  # object columns: the stored ints stay ints beside NULLs
            return pd.DataFrame(rows, dtype=object)
    if (run_dir / "funnel.csv").is_file():
        return read_csv(run_dir / "funnel.csv")
    return None


def optional_tables(run_dir: Path) -> str:
    """Markdown sections for the funnel and the tuning trials present in `run_dir`."""
    parts = []
    rows = funnel_rows(run_dir)
    if rows is not None and len(rows):
        shown = rows[[k for k in FUNNEL_COLUMNS if k in rows.columns] or list(rows.columns)]
        if {"fitness", "seed_fitness"} <= set(shown.columns):
            shown = shown.assign(**{"ratio to seed": [
                _ratio(x, base) for x, base in zip(shown["fitness"], shown["seed_fitness"])]})
        parts += ["## Funnel", "", "The best candidates re-evaluated on larger tasks against "
                  "the seed (`passed`: it beat the seed at that stage):", "",
                  md_table(list(shown.columns), shown.map(_cell).values.tolist()), ""]
    if (run_dir / "trials.csv").is_file():
        parts += [trials_summary(run_dir), ""]
    return "\n".join(parts).rstrip()


def _ratio(x: Any, base: Any) -> float | None:
    try:
        x, base = float(x), float(base)
    except (TypeError, ValueError):
        return None
    return x / base if math.isfinite(x) and math.isfinite(base) and base else None


def _objective(header: list[str]) -> str | None:
    return next((c for c in OBJECTIVES if c in header), None)


def trials_summary(run_dir: Path, top: int = 5) -> str:
    """A tuning section from `run_dir/trials.csv`: count, best trial, top rows, a figure
    of the objective and the best so far against the trial order."""
    rows = read_csv(run_dir / "trials.csv")
    header = list(rows.columns)
    obj = _objective(header)
    lines = ["## Tuning trials", ""]
    if not len(rows):
        return "\n".join(lines + ["`trials.csv` holds no trials yet."])
    if obj is None:
        lines += [f"{len(rows)} trials in `trials.csv` (no objective column among "
                  f"{', '.join(OBJECTIVES)}).", "",
                  md_table(header, rows.head(top).values.tolist())]
        return "\n".join(lines)
    # a missing or unreadable objective (or nan) counts as inf: never the best
    values = pd.to_numeric(rows[obj], errors="coerce").fillna(math.inf)
    ranked = rows.assign(_value=values.values).sort_values("_value", kind="stable")
    best = int(ranked.index[0])
    label = rows["trial"].iloc[best] if "trial" in rows.columns else str(best)
    lines += [f"{len(rows)} trials in `trials.csv`; the best (lowest `{obj}`) is trial "
              f"{label}: {values.iloc[best]:.6g}.", "",
              md_table(["rank"] + header, [[k + 1, *row] for k, row in
                                           enumerate(ranked[header].head(top).values.tolist())])]
    data = {"trial": list(range(len(rows))), obj: values.tolist(),
            "best_so_far": values.cummin().tolist()}

    def draw(ax, d):
        ax.scatter(d["trial"], finite(d[obj]), s=10, color="0.6", label=obj)
        ax.step(d["trial"], finite(d["best_so_far"]), where="post", color="tab:red",
                label="best so far")
        ax.set_xlabel("trial (in trials.csv order)")
        ax.set_ylabel(obj)
        ax.set_title("Tuning trials")
        ax.legend(fontsize=8)

    figure(run_dir / "report_trials.png", data, draw)
    lines += ["", "![trials](report_trials.png)"]
    return "\n".join(lines)


def _cell(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.6g}"
    return "" if x is None else str(x)
