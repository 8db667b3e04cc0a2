"""Notes, tables and plots of runs, sweeps and evaluations.

- `write_report(dir)`: `report.md` and figures of a search run (or a sweep's notes,
  or a tuning directory's trials), every number read from the run store;
- `plan_sweep` / `run_sweep`: the grid of config changes behind `symopt sweep`, with
  lab notes (`notes.md`), `summary.csv`, figures and a rule-based Discussion.
"""

from symopt.report.report import write_report
from symopt.report.sweep import SweepPlan, plan_sweep, run_sweep

__all__ = ["SweepPlan", "plan_sweep", "run_sweep", "write_report"]
