"""Sweeps: the intern's experiment — run a grid of config changes over several seeds.

`plan_sweep(config, vary=["search.population=8,16,32"], seeds=3)` makes a `SweepPlan`:
Run 0 is the config as given (the baseline), then one setting per point of the grid
of `--vary` values (a point equal to the baseline is Run 0 itself). Any config key
can vary, task overrides included (`task.overrides.steps=50,100`). Each setting runs
once per search seed (`search.random_seed` + 0, 1, ...), in `DIR/run-K/seed-S/`.

`run_sweep(plan, DIR)` is resumable: the plan is stored in `DIR/sweep.json` (a
different plan in the same directory is refused), finished runs are skipped, a run
killed mid-way is resumed from its store. After every run, `notes.md`, `summary.csv`
and the figures are rewritten (`symopt.report.sweep_report`).

>>> plan = plan_sweep({"search": {"population": 4, "budget": 5}},
...                   ["search.population=2,4", "search.tournament=1,2"], seeds=2)
>>> for s in plan.settings():
...     print(s.index, s.label)
0 baseline (search.population=4, search.tournament=2)
1 search.population=2, search.tournament=1
2 search.population=2, search.tournament=2
3 search.population=4, search.tournament=1
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from symopt import checks
from symopt.errors import UserError
from symopt.files import output_dir, read_text, toml_value
from symopt.search.config.loading import SearchConfig

SWEEP_FILE = "sweep.json"


def parse_vary(text: str) -> tuple[str, list[Any]]:
    """`"search.population=8,16"` → `("search.population", [8, 16])` (values as TOML
    literals: numbers, true/false; anything else is a string).

    >>> parse_vary("task.name=quadratic,rosenbrock"), parse_vary("task.overrides.steps=50")
    (('task.name', ['quadratic', 'rosenbrock']), ('task.overrides.steps', [50]))
    """
    key, sep, values = text.partition("=")
    key = key.strip()
    if not sep or not key or not values.strip():
        raise UserError(f"--vary {text!r}: expected KEY=V1,V2,... (e.g. search.population=8,16)")
    if len(key.split(".")) < 2 or any(not part for part in key.split(".")):
        raise UserError(f"--vary {text!r}: KEY is SECTION.NAME, e.g. search.population")
    out = []
    for token in values.split(","):
        token = token.strip()
        if not token:
            raise UserError(f"--vary {text!r}: empty value")
        parsed = toml_value(token, f"--vary {key}")
        out.append(token if parsed is None else parsed)
    return key, out


def _get(config: dict, key: str) -> Any:
    node: Any = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _set(config: dict, key: str, value: Any) -> None:
    *parents, last = key.split(".")
    node = config
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise UserError(f"--vary {key}: {part} is not a table")
    node[last] = value


@dataclass(frozen=True)
class Setting:
    """One point of the sweep: `index` (Run k), the varied values, the label."""

    index: int
    values: dict[str, Any]
    label: str
    config: dict[str, Any] = field(repr=False, compare=False)


@dataclass
class SweepPlan:
    """What a sweep runs (stored as `DIR/sweep.json`)."""

    config: dict[str, Any]
    vary: list[tuple[str, list[Any]]]
    seeds: int
    programs: list[tuple[str, str]] = field(default_factory=list)
    source: str = "config"

    def settings(self) -> list[Setting]:
        keys = [k for k, _ in self.vary]
        base_values = {k: _get(self.config, k) for k in keys}
        shown = ", ".join(f"{k}={_show(v)}" for k, v in base_values.items())
        out = [Setting(0, base_values, f"baseline ({shown})" if keys else "baseline",
                       self.config)]
        seen = [json.dumps(self.config, sort_keys=True)]
        for combo in itertools.product(*(values for _, values in self.vary)):
            cfg = copy.deepcopy(self.config)
            for k, v in zip(keys, combo):
                _set(cfg, k, v)
            ident = json.dumps(cfg, sort_keys=True)
            if ident in seen:
                continue
            seen.append(ident)
            values = dict(zip(keys, combo))
            out.append(Setting(len(out), values,
                               ", ".join(f"{k}={_show(v)}" for k, v in values.items()), cfg))
        return out

    def search_config(self, setting: Setting, seed: int,
                      source: str | None = None) -> SearchConfig:
        """The validated config of one run (search seed = the config's + `seed`); errors
        name `source` (default: `sweep setting LABEL`)."""
        cfg = copy.deepcopy(setting.config)
        search = cfg.setdefault("search", {})
        key = "seed" if "seed" in search else "random_seed"  # the old spelling is still read
        search[key] = int(search.get(key, 0)) + seed
        return SearchConfig.from_dict(cfg, source=source or f"sweep setting {setting.label}")

    @property
    def budget(self) -> int:
        return int(self.config.get("search", {}).get("budget", SearchConfig().search.budget))

    def to_json(self) -> str:
        return json.dumps({"version": 1, "source": self.source, "config": self.config,
                           "vary": [[k, v] for k, v in self.vary], "seeds": self.seeds,
                           "programs": [[n, t] for n, t in self.programs]}, indent=1,
                          sort_keys=True)

    @classmethod
    def from_json(cls, text: str, where: str = SWEEP_FILE) -> SweepPlan:
        try:
            d = json.loads(text)
            return cls(d["config"], [(k, list(v)) for k, v in d["vary"]], int(d["seeds"]),
                       [(n, t) for n, t in d["programs"]], d.get("source", "config"))
        except (ValueError, KeyError, TypeError) as err:
            raise UserError(f"{where}: not a readable sweep plan ({err})") from None


def _show(v: Any) -> str:
    return "default" if v is None else (json.dumps(v) if isinstance(v, str | bool) else str(v))


def plan_sweep(config: SearchConfig | dict[str, Any], vary: list[str], seeds: int = 3, *,
               budget: int | None = None, programs: Sequence[str | Path] = (),
               source: str = "config") -> SweepPlan:
    """A validated plan: every setting's config is checked, an error naming the offending
    `--vary` as its source.

    >>> plan_sweep({}, ["search.population=8,0"])
    Traceback (most recent call last):
    ...
    symopt.errors.UserError: --vary search.population=0: search.population: must be at least 1 \
(got 0)
    """
    base = config.to_dict() if isinstance(config, SearchConfig) else copy.deepcopy(config)
    if budget is not None:
        if budget < 1:
            raise UserError(f"--budget {budget}: must be at least 1")
        base.setdefault("search", {})["budget"] = budget
    checks.bounded(seeds, 1, checks.MAX_SWEEP_RUNS, "--seeds")
    pairs = [parse_vary(v) for v in vary]
    runs = seeds * math.prod(len(values) + 1 for _, values in pairs)
    if runs > checks.MAX_SWEEP_RUNS:
        raise UserError(f"--vary/--seeds: up to {runs:,} searches; a sweep runs at most "
                        f"{checks.MAX_SWEEP_RUNS:,} (settings x seeds)")
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise UserError(f"--vary: a key is given twice ({', '.join(keys)})")
    base = SearchConfig.from_dict(base, source=source).to_dict()
    from symopt import programs as builtin
    from symopt.lang import parse_file, to_text

    texts = []
    for spec in programs:  # a .prog file or a built-in name
        path = builtin.resolve(spec)
        texts.append((path.name, to_text(parse_file(path))))
    plan = SweepPlan(base, pairs, seeds, texts, source)
    checked_tasks = set()
    for setting in plan.settings():
        where = source if setting.index == 0 else f"--vary {setting.label}"
        cfg = plan.search_config(setting, 0, where)
        task = json.dumps(cfg.task.spec(), sort_keys=True)
        if task not in checked_tasks:
            checked_tasks.add(task)
            cfg.check_task(where)
    return plan


@dataclass
class SweepResult:
    """What `run_sweep` did: runs trained now, runs skipped as finished, interrupted."""

    out: Path
    ran: list[tuple[int, int]]
    skipped: list[tuple[int, int]]
    interrupted: bool


def run_dir(out: Path, setting_index: int, seed: int) -> Path:
    return Path(out) / f"run-{setting_index}" / f"seed-{seed}"


def run_finished(path: Path, budget: int, candidate_limit: int, unit: str = "runs") -> bool:
    """Whether the run stored in `path` has spent its budget (training runs, or steps with
    `unit = "steps"`) or its candidate limit."""
    from symopt.search.storage.store import STORE_NAME, RunStore

    if not (path / STORE_NAME).is_file():
        return False
    store = RunStore.open(path)
    try:
        cands = store.candidates()
    finally:
        store.close()
    spent = sum(r.steps if unit == "steps" else not r.cache_hit for r in cands)
    return spent >= budget or len(cands) >= candidate_limit


def prepare_out(plan: SweepPlan, out: str | Path) -> Path:
    """Create `out` with the plan and the seed programs, or check the stored plan is
    this one (a different sweep in `out` is a `UserError`)."""
    out = Path(out)
    path = out / SWEEP_FILE
    if path.is_file():
        stored = SweepPlan.from_json(read_text(path), str(path))
        diffs = [name for name, a, b in (
            ("config", stored.config, plan.config), ("--vary", stored.vary, plan.vary),
            ("--seeds", stored.seeds, plan.seeds), ("seed programs", stored.programs,
                                                    plan.programs)) if a != b]
        if diffs:
            raise UserError(f"{out} holds a different sweep (its {', '.join(diffs)} differ); "
                            f"rerun the same command to resume it, or choose another --out")
        return out
    from symopt.search.storage.store import write_atomic

    try:
        (out / "programs").mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"{out}: cannot create the sweep directory: {err.strerror}") from None
    for name, text in plan.programs:
        write_atomic(out / "programs" / name, text)
    write_atomic(path, plan.to_json())
    return out


def run_sweep(plan: SweepPlan, out: str | Path, *, progress: str = "auto",
              evaluate_fn: Callable | None = None,
              stop_requested: Callable[[], bool] = lambda: False,
              stream=None) -> SweepResult:
    """Run (or resume) every run of `plan` in `out`; see the module docstring."""
    from symopt.report.sweep_progress import make_sweep_progress
    from symopt.report.sweep_report import write_sweep_report
    from symopt.search.evolution.loop import run_search
    from symopt.search.storage.runlock import ensure_free

    output_dir(out, "--out")
    ensure_free(out)  # a live search owns `out`: refused before anything is written
    out = prepare_out(plan, out)
    if not plan.programs:
        raise UserError("a sweep needs at least one seed program (--program PROG)")
    programs = [out / "programs" / name for name, _ in plan.programs]
    settings = plan.settings()
    jobs = [(s, k) for s in settings for k in range(plan.seeds)]
    ran, skipped = [], []
    interrupted = False
    with make_sweep_progress(progress, len(jobs) * plan.budget, stream) as display:
        for setting, seed in jobs:
            cfg = plan.search_config(setting, seed)
            path = run_dir(out, setting.index, seed)
            name = f"Run {setting.index} ({setting.label}), seed {seed}"
            if run_finished(path, cfg.search.budget, cfg.search.candidate_limit,
                            cfg.search.budget_unit):
                skipped.append((setting.index, seed))
                display.skip(name, cfg.search.budget)
                continue
            if stop_requested():
                interrupted = True
                break
            from symopt.search.storage.store import STORE_NAME

            resume = (path / STORE_NAME).is_file()
            start = time.monotonic()
            result = run_search(cfg, path, seeds=None if resume else [str(p) for p in programs],
                                resume=resume, evaluate_fn=evaluate_fn,
                                progress=display.run(name), stop_requested=stop_requested)
            ran.append((setting.index, seed))
            display.done(name, result, time.monotonic() - start)
            write_sweep_report(out, figures=False)
            if result.interrupted:
                interrupted = True
                break
    write_sweep_report(out)
    return SweepResult(out, ran, skipped, interrupted)
