"""Notes, tables and plots of runs, sweeps and evaluations.

- `write_report(dir)`: `report.md` and figures of a search run (or a sweep's notes,
  or a tuning directory's trials), every number read from the run store;
- `plan_sweep` / `run_sweep`: the grid of config changes behind `symopt sweep`, with
  lab notes (`notes.md`), `summary.csv`, figures and a rule-based Discussion;
- `write_writeup(dir)`: a short paper (PDF via Typst, or LaTeX) of a run or a sweep,
  every sentence made from the stored data by a fixed rule (`symopt writeup`).
"""

from symopt.report.report import write_report
from symopt.report.sweep import SweepPlan, plan_sweep, run_sweep
from symopt.report.writeup import write_writeup

__all__ = ["SweepPlan", "plan_sweep", "run_sweep", "write_report", "write_writeup"]
