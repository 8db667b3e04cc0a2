"""The progress display of a sweep: one bar over every training run of every run.

`make_sweep_progress(mode, total)` gives a context manager with `run(name)` (a
progress object for one `run_search`, which moves the sweep's bar), `skip(name, n)`
(a finished run, counted as done) and `done(name, result, seconds)`. Modes as
`symopt search --progress`: rich (a live bar), plain (lines), none.

>>> import io
>>> s = io.StringIO()
>>> with make_sweep_progress("plain", 20, s) as p:
...     p.skip("Run 0, seed 0", 10)
>>> "skipped (finished): Run 0, seed 0 [10/20 training runs]" in s.getvalue()
True
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from symopt.search.evolution.progress import SearchStats


class _RunProgress:
    """The progress protocol of `run_search`, reporting into the sweep display."""

    def __init__(self, sweep: _SweepProgress, name: str):
        self.sweep, self.name = sweep, name
        self.counted = 0

    def __enter__(self):
        return self

    def update(self, stats: SearchStats, force: bool = False) -> None:
        # stats.evaluations includes runs of earlier sessions: count only the new ones.
        if not self.counted and stats.evaluations:
            self.counted = stats.evaluations - stats.session_evaluations
            self.sweep.advance(self.counted)
        new = stats.evaluations - self.counted
        if new > 0:
            self.counted = stats.evaluations
            self.sweep.advance(new)
        self.sweep.status(self.name, stats, force)

    def __exit__(self, *exc) -> None:
        pass


class _SweepProgress:
    def __init__(self, total: int, stream: TextIO):
        self.total, self.stream, self.done_runs = total, stream, 0

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def run(self, name: str) -> _RunProgress:
        return _RunProgress(self, name)

    def advance(self, n: int) -> None:
        self.done_runs += n

    def skip(self, name: str, n: int) -> None:
        self.advance(n)
        self.line(f"skipped (finished): {name}")

    def done(self, name: str, result, seconds: float) -> None:
        state = "interrupted" if result.interrupted else "finished"
        self.line(f"{state}: {name}: best {result.stats.best_fitness:.6g} (seed "
                  f"{result.stats.seed_fitness:.6g}) in {seconds:.1f}s")

    def status(self, name: str, stats: SearchStats, force: bool) -> None:
        pass

    def line(self, text: str) -> None:
        print(f"{text} [{self.done_runs}/{self.total} training runs]", file=self.stream,
              flush=True)


class _PlainSweepProgress(_SweepProgress):
    def __init__(self, total: int, stream: TextIO, interval: float = 10.0):
        super().__init__(total, stream)
        self.interval, self._last = interval, time.monotonic()

    def status(self, name: str, stats: SearchStats, force: bool) -> None:
        if time.monotonic() - self._last >= self.interval:
            self._last = time.monotonic()
            self.line(f"{name}: {stats.line()}")


class _RichSweepProgress(_SweepProgress):
    def __init__(self, total: int, stream: TextIO):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        super().__init__(total, stream)
        self._console = Console(file=stream)
        self._progress = Progress(TextColumn("[bold]sweep"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("training runs"), TimeElapsedColumn(),
                                  TimeRemainingColumn(), TextColumn("{task.description}"),
                                  console=self._console)
        self._task = self._progress.add_task("", total=total)

    def __enter__(self):
        self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.__exit__(*exc)

    def advance(self, n: int) -> None:
        super().advance(n)
        self._progress.update(self._task, completed=self.done_runs)

    def status(self, name: str, stats: SearchStats, force: bool) -> None:
        self._progress.update(self._task, description=f"{name}: best {stats.best_fitness:.4g}")

    def line(self, text: str) -> None:
        self._progress.console.print(text)


class _NoSweepProgress(_SweepProgress):
    def line(self, text: str) -> None:
        pass


def make_sweep_progress(mode: str, total: int, stream: TextIO | None = None) -> _SweepProgress:
    """`"rich"`, `"plain"`, `"none"` or `"auto"` (rich on a terminal, else plain)."""
    stream = stream or sys.stderr
    if mode == "auto":
        mode = "rich" if stream.isatty() else "plain"
    cls = {"rich": _RichSweepProgress, "plain": _PlainSweepProgress}.get(mode, _NoSweepProgress)
    return cls(total, stream)
