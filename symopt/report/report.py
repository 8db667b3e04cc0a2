"""`write_report(path)`: the report of whatever `path` holds, written beside it.

- a search run (`run.sqlite`): `report.md` and figures (`symopt.report.run_report`);
- a sweep (`sweep.json`): `notes.md`, `summary.csv` and figures, regenerated
  (`symopt.report.sweep_report`);
- a tuning directory (`trials.csv` without a run store): `report.md` with the trials.

Each keeps the hand-written notes between `<!-- notes -->` and `<!-- /notes -->`.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "trials.csv").write_text("trial,loss\\n0,2.0\\n1,1.5\\n")
>>> write_report(d).name
'report.md'
"""

from __future__ import annotations

from pathlib import Path

from symopt.errors import UserError
from symopt.report.notes import notes_block, write_keeping_notes
from symopt.report.tables import trials_summary
from symopt.search.storage.runlock import ensure_free
from symopt.search.storage.store import STORE_NAME


def write_report(path: str | Path, *, curves: bool = True) -> Path:
    """Write the report of the run, sweep or tuning directory `path`; returns its path.

    `curves=False` skips training the validation curves a search report draws (those
    already stored are still drawn).
    """
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{path}: no such run directory")
    ensure_free(path)  # a live search owns it: refused before any figure is written
    if (path / STORE_NAME).is_file():
        from symopt.report.run_report import write_run_report

        return write_run_report(path, curves=curves)
    from symopt.report.sweep_report import SWEEP_FILE, write_sweep_report

    if (path / SWEEP_FILE).is_file():
        return write_sweep_report(path)
    if (path / "trials.csv").is_file():
        text = "\n".join([f"# symopt report: {path.name}", "", notes_block(), "",
                          trials_summary(path), ""])
        return write_keeping_notes(path / "report.md", text)
    raise UserError(f"{path}: nothing to report (no {STORE_NAME}, {SWEEP_FILE} or trials.csv)")
