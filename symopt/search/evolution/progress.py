"""What a search shows while it runs: counters (`SearchStats`) and their display.

On a terminal, a rich live panel on stderr; otherwise (CI, pipes, logs) one plain
line every `interval` seconds. Both read the same `SearchStats`.

>>> s = SearchStats(budget=10)
>>> s.record(cache_hit=False, tries=3, redundant=0.5)
>>> s.record(cache_hit=True, tries=1, redundant=0.0)
>>> s.evaluations, s.cache_hits, round(s.cache_hit_pct), round(s.invalid_pct)
(1, 1, 50, 50)
>>> "evals 1/10" in s.line() and "ETA" in s.line()
True
>>> format_duration(3725), format_duration(59.6), format_duration(math.inf)
('1h02m', '1m00s', '?')
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class SearchStats:
    """Running counters of a search (this session's rates; totals include resumed work)."""

    budget: int
    candidates: int = 0
    evaluations: int = 0
    cache_hits: int = 0
    tries: int = 0
    rejected_tries: int = 0
    redundant_sum: float = 0.0
    restarts: int = 0
    best_fitness: float = math.inf
    best_text: str = ""
    seed_fitness: float = math.inf
    session_candidates: int = 0
    session_evaluations: int = 0
    prepare_seconds: float = 0.0
    workers: str = ""  # the executor's own line, e.g. the Ray cluster's workers
    stop_reason: str = ""
    stopped_diverged: int = 0  # training runs stopped early, this session
    stopped_hurdle: int = 0
    skipped_steps: int = 0  # training steps they did not run
    train_seconds: float = 0.0  # training time of this session's runs (compiles excluded)
    train_steps: int = 0
    transient: int = 0  # training runs that failed for the machine (timeout, dead worker)
    unit: str = "runs"  # what `budget` counts: "runs" or "steps"
    spent_steps: int = 0  # training steps charged, resumed work included
    session_steps: int = 0
    #: steps by where they went: finished, diverged, hurdle, probe, other (timeouts, errors)
    step_classes: dict[str, int] = field(default_factory=dict)
    #: `{operator: (children, successes, weight)}`, set by the search
    operators: dict[str, tuple[int, int, float]] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def record(self, *, cache_hit: bool, tries: int, redundant: float, session: bool = True,
               prepare_seconds: float = 0.0, steps: int = 0, probe_steps: int = 0,
               status: str = "ok") -> None:
        """Count one stored candidate (`steps`: the training steps it cost, of which
        `probe_steps` were its learning-rate probe's multipliers not chosen)."""
        self.spent_steps += steps
        if steps:
            kind = status if status in ("diverged", "hurdle") else (
                "finished" if status == "ok" else "other")
            for k, n in ((kind, steps - probe_steps), ("probe", probe_steps)):
                self.step_classes[k] = self.step_classes.get(k, 0) + n
        if session:
            self.session_steps += steps
        self.candidates += 1
        if cache_hit:
            self.cache_hits += 1
        else:
            self.evaluations += 1
        self.tries += max(tries, 1)
        self.rejected_tries += max(tries - 1, 0)
        self.redundant_sum += redundant
        if session:
            self.session_candidates += 1
            self.session_evaluations += 0 if cache_hit else 1
            self.prepare_seconds += prepare_seconds

    def record_training(self, status: str, steps: int, planned_steps: int,
                        run_seconds: float) -> None:
        """Count one training run; a run stopped early saved ``planned - steps`` steps.

        >>> s = SearchStats(budget=4)
        >>> s.record_training("ok", 100, 100, 10.0)
        >>> s.record_training("hurdle", 25, 100, 2.5)
        >>> s.stopped_hurdle, round(s.saved_seconds, 1), round(s.saved_pct)
        (1, 7.5, 38)
        """
        self.train_seconds += run_seconds
        self.train_steps += steps
        if status in ("diverged", "hurdle") and planned_steps > steps:
            if status == "diverged":
                self.stopped_diverged += 1
            else:
                self.stopped_hurdle += 1
            self.skipped_steps += planned_steps - steps

    @property
    def saved_seconds(self) -> float:
        """Training time early stops saved: their skipped steps at this session's pace."""
        per_step = self.train_seconds / self.train_steps if self.train_steps else 0.0
        return self.skipped_steps * per_step

    @property
    def saved_pct(self) -> float:
        """`saved_seconds` as a share of what full runs would have taken."""
        total = self.saved_seconds + self.train_seconds
        return 100.0 * self.saved_seconds / total if total else 0.0

    @property
    def prepare_us_per_child(self) -> float:
        """Microseconds of preparation (mutate, check, dead code, hash, fingerprint, cache)
        per child this session."""
        return 1e6 * self.prepare_seconds / self.session_candidates if (
            self.session_candidates) else 0.0

    def record_invalid(self, tries: int) -> None:
        """Count a mutation that gave no valid new child at all."""
        self.tries += tries
        self.rejected_tries += tries

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def evals_per_min(self) -> float:
        return 60.0 * self.session_evaluations / max(self.elapsed, 1e-9)

    @property
    def children_per_s(self) -> float:
        """Children prepared per second of preparation (mutation, checks, hashing, cache)."""
        return self.session_candidates / self.prepare_seconds if self.prepare_seconds else 0.0

    @property
    def spent(self) -> int:
        """The budget spent, in its unit: training runs or training steps."""
        return self.spent_steps if self.unit == "steps" else self.evaluations

    @property
    def eta_seconds(self) -> float:
        """Seconds until the budget is spent at this session's rate (inf before a rate)."""
        done = self.session_steps if self.unit == "steps" else self.session_evaluations
        if not done:
            return math.inf
        left = max(self.budget - self.spent, 0)
        return left * self.elapsed / done

    def compute_line(self) -> str:
        """Where the training steps went, as fractions of all steps trained.

        >>> s = SearchStats(budget=1000, unit="steps")
        >>> s.record(cache_hit=False, tries=1, redundant=0.0, steps=300, probe_steps=100)
        >>> s.record(cache_hit=False, tries=1, redundant=0.0, steps=100, status="diverged")
        >>> s.compute_line()
        'compute: 400 steps: finished 50%, diverged 25%, hurdle 0%, probes 25%'
        """
        total = sum(self.step_classes.values())
        parts = [(name, self.step_classes.get(key, 0)) for name, key in (
            ("finished", "finished"), ("diverged", "diverged"), ("hurdle", "hurdle"),
            ("probes", "probe"), ("other", "other"))]
        shown = ", ".join(f"{name} {100 * n / total:.0f}%" for name, n in parts
                          if total and (n or name != "other"))
        return f"compute: {total} steps" + (f": {shown}" if total else "")

    def operator_lines(self) -> list[str]:
        """One line per operator that made children: count, success rate, weight."""
        return [f"  {op:<17} {c:>5} children, {100 * k / c:3.0f}% beat their parent, "
                f"weight {w:.3f}" for op, (c, k, w) in self.operators.items() if c]

    @property
    def cache_hit_pct(self) -> float:
        return 100.0 * self.cache_hits / self.candidates if self.candidates else 0.0

    @property
    def invalid_pct(self) -> float:
        return 100.0 * self.rejected_tries / self.tries if self.tries else 0.0

    @property
    def redundant_pct(self) -> float:
        return 100.0 * self.redundant_sum / self.candidates if self.candidates else 0.0

    def line(self) -> str:
        """One plain status line."""
        spent = (f"steps {self.spent_steps}/{self.budget}  runs {self.evaluations}"
                 if self.unit == "steps" else f"evals {self.evaluations}/{self.budget}"
                 f"  steps {self.spent_steps}")
        return (f"{spent}  ETA {format_duration(self.eta_seconds)}"
                f"  candidates {self.candidates}  "
                f"{self.evals_per_min:.1f} evals/min  cache hits {self.cache_hit_pct:.1f}%  "
                f"invalid children {self.invalid_pct:.1f}%  redundant "
                f"{self.redundant_pct:.1f}%  best {self.best_fitness:.6g}")

    def summary(self) -> str:
        """A few lines for the end of a run."""
        return "\n".join([
            self.line(),
            f"seed fitness {self._seed()}, best {self.best_fitness:.6g}; "
            f"{self.restarts} restart(s); {self.elapsed:.1f}s; "
            f"{self.children_per_s:.0f} children/s prepared "
            f"({self.prepare_us_per_child:.0f} us per child)",
            f"early stops: {self.stopped_diverged} diverged, {self.stopped_hurdle} at a hurdle;"
            f" training time saved {_seconds(self.saved_seconds)} "
            f"({self.saved_pct:.0f}% of full runs)",
            *([f"transient failures: {self.transient} training run(s) (timeouts, dead "
               f"workers; each retried once, never cached)"] if self.transient else []),
            self.compute_line(),
            *(["operators (children, beat their parent, final weight):",
               *self.operator_lines()] if any(c for c, _, _ in self.operators.values())
              else []),
            *([f"stopped: {self.stop_reason}"] if self.stop_reason else []),
            "best program (simplified):",
            self.best_text.rstrip(),
            *self._memory(),
        ])

    def _seed(self) -> str:
        if math.isfinite(self.seed_fitness):
            return f"{self.seed_fitness:.6g}"
        return "none (the seed did not train)"

    def _memory(self) -> list[str]:
        """The best program's optimizer memory, as one line (none without a best program)."""
        from symopt.lang import parse
        from symopt.lang.dead_code import memory_line

        try:
            return [memory_line(parse(self.best_text))]
        except Exception:  # noqa: BLE001 - display only
            return []


def _seconds(seconds: float) -> str:
    """`format_duration`, with a decimal under 10 s (a saving of 0.4 s is not `0s`).

    >>> _seconds(0.42), _seconds(75)
    ('0.4s', '1m15s')
    """
    return f"{seconds:.1f}s" if 0 <= seconds < 10 else format_duration(seconds)


def format_duration(seconds: float) -> str:
    """`42s`, `7m05s`, `1h02m`, or `?` when unknown: the one duration format of symopt (the
    progress display and the reports' wall times)."""
    if not math.isfinite(seconds):
        return "?"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class PlainProgress:
    """A status line every `interval` seconds (for logs and CI)."""

    def __init__(self, stream: TextIO | None = None, interval: float = 10.0):
        self.stream = stream or sys.stderr
        self.interval = interval
        self._last = 0.0

    def __enter__(self):
        return self

    def update(self, stats: SearchStats, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= self.interval:
            self._last = now
            workers = f"  [{stats.workers}]" if stats.workers else ""
            print(stats.line() + workers, file=self.stream, flush=True)

    def __exit__(self, *exc) -> None:
        pass


class RichProgress:
    """A rich live panel: counters, rates, best fitness and the best program."""

    def __init__(self, stream: TextIO | None = None):
        from rich.console import Console
        from rich.live import Live

        self._console = Console(file=stream or sys.stderr)
        self._live = Live(console=self._console, refresh_per_second=4, transient=False)

    def __enter__(self):
        self._live.__enter__()
        return self

    def update(self, stats: SearchStats, force: bool = False) -> None:
        from rich.panel import Panel
        from rich.table import Table

        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold")
        t.add_column()
        done = stats.spent / stats.budget if stats.budget else 0.0
        bar = "█" * int(30 * min(done, 1.0))
        t.add_row("training steps" if stats.unit == "steps" else "evaluations",
                  f"{stats.spent}/{stats.budget} {bar:<30} {100 * done:.0f}%")
        if stats.unit == "steps":
            t.add_row("training runs", f"{stats.evaluations}")
        t.add_row("ETA", f"{format_duration(stats.eta_seconds)} "
                  f"(elapsed {format_duration(stats.elapsed)})")
        t.add_row("candidates", f"{stats.candidates} ({stats.restarts} restarts)")
        t.add_row("evals/min", f"{stats.evals_per_min:.1f}")
        t.add_row("cache hits", f"{stats.cache_hit_pct:.1f}%")
        t.add_row("invalid children", f"{stats.invalid_pct:.1f}%")
        t.add_row("redundant stmts", f"{stats.redundant_pct:.1f}%")
        if stats.workers:
            t.add_row("workers", stats.workers)
        t.add_row("best fitness", f"{stats.best_fitness:.6g} (seed {stats.seed_fitness:.6g})")
        t.add_row("best program", stats.best_text.rstrip())
        self._live.update(Panel(t, title="symopt search"))

    def __exit__(self, *exc) -> None:
        self._live.__exit__(*exc)


class NoProgress:
    """Shows nothing (library use, tests)."""

    def __enter__(self):
        return self

    def update(self, stats: SearchStats, force: bool = False) -> None:
        pass

    def __exit__(self, *exc) -> None:
        pass


def make_progress(mode: str = "auto", stream: TextIO | None = None):
    """`"rich"`, `"plain"`, `"none"`, or `"auto"` (rich on a terminal, else plain).

    >>> type(make_progress("none")).__name__
    'NoProgress'
    """
    stream = stream or sys.stderr
    if mode == "auto":
        mode = "rich" if stream.isatty() else "plain"
    return {"rich": RichProgress, "plain": PlainProgress}.get(mode, lambda s: NoProgress())(stream)
