"""Search configuration: a TOML file with `[search]`, `[task]`, `[mutation]`, `[cache]`,
`[executor]`, `[hurdles]`.

Every key is checked: an unknown key, a wrong type or a bad value is a `UserError` naming
the file and the key by its dotted path, in the one format of every config
(`symopt.config_table`): `c.toml: search.population: must be at least 1 (got 0)`,
`c.toml: funnel.2.top_k: ...` (stages numbered from 1, as `--set funnel.2.top_k=`
names them), with a "did you mean" hint for a near miss. Each section is a dataclass of
`symopt.search.config.sections`, read from its table by `symopt.config_table.read_table`;
this module checks values across keys and finds and reads the files.

- `[search]`: `population` (P), `tournament` (T), `budget` (number of training runs,
  seed evaluations included; cache hits are free and do not count), `max_candidates`
  (stop after this many candidates whatever the budget; 0 = 50 x budget), `random_seed`
  (random seed of the search; the old spelling `seed` is still read, with a deprecation
  message), `workers` (evaluations in flight; 1 = one at a time and
  reproducible candidate for candidate), `restart_after` (restart when the best has not
  improved for this many candidates; 0 = never), `restart_from` (`"seed"` or `"best"`),
  `hall_of_fame` (rows in `hall_of_fame.csv`), `snapshot_every` (candidates between
  population snapshots), `method` (`"evolution"`: mutate tournament winners;
  `"constants"`: the same, but only constant perturbations, so every candidate has the
  seed's structure (the hyperparameter-tuning baseline); `"random"`: random programs of
  similar length to the seed, never derived from it (the random-search baseline)),
  `stall_after` (this many mutations in a row that give no new
  valid child mean the search is stuck; default 100) and `on_stall` (`"restart"` from
  the seeds, the default, or `"stop"`; a search still stuck right after a restart stops,
  with everything stored, a message naming the cause and exit code 3), `batch`
  (population-parallel training: each worker trains up to this many candidates together
  in one compiled call, `symopt.search.execution.batching`; up to `workers x batch` candidates are
  in flight and aging evolution stays steady-state; worth it on an accelerator, default 1),
  `budget_unit` (`"runs"`, the default: `budget` counts training runs; `"steps"`, the
  built-in configs': it counts training steps actually taken, all task seeds and
  learning-rate multipliers included, a run stopped early at what it trained, cache hits
  free, derived from the stored candidates so a resumed run charges nothing twice),
  `lr_probe` (multipliers of the learning-rate probe of a child with a new structure,
  e.g. `[1.0, 0.25, 4.0]`; empty, the default: no probe; random programs have no parent
  and are never probed; `symopt.search.evolution.lr_probe`).
- `[task]`: `name`, `seeds` (fitness = mean over these training seeds), `lr_multipliers`
  (default: the task's), `time_limit_s` (per training run), `overrides` (a table of task
  fields, e.g. `steps`), `engine` (`"interpreted"`, the default: one compiled interpreter
  per size class runs every program; `"compiled"`: one compile per program; see
  `symopt.tasks.engine`).
- `[hurdles]` (early stopping, as in AutoML-Zero; `symopt.search.evolution.hurdles`): `at`
  (fractions of the run, e.g. `[0.25, 0.5]`; empty = off), `rule` (`"quantile"`: stop a
  child whose validation loss there is above the `quantile` of the population's;
  `"seed"`: above the seed's curve x (1 + `margin`)), `min_members` (the quantile rule
  falls back to the seed rule while fewer members have a loss at that point).
- `[mutation]`: the keys of `symopt.search.config.sections.MutationConfig` (operator weights,
  bounds, functions); `SearchConfig.mutation` holds it typed, built once here.
- `[[funnel]]` (any number of stages, in order; see `symopt.search.funnel`): `task`,
  `overrides`, `top_k` (distinct candidates taken into the stage), `seeds`,
  `lr_multipliers` (the grid under which candidates *and* the seed are trained),
  `time_limit_s`.
- `[cache]`: `path` (an SQLite file shared between runs; relative to the current
  directory; default: `cache.sqlite` in the run directory), `fingerprint` (also match
  programs by numeric fingerprint; default true).
- `[executor]`: where training runs happen (`ExecutorSection`): `kind` (`"auto"`: in
  process for one worker, else local processes; `"inline"`, `"process"` or `"ray"`),
  `address` (Ray only: `""` starts a local Ray, `"auto"` joins the cluster this machine
  belongs to, `"host:port"` or `"ray://host:port"` an existing cluster), `cpus_per_eval`,
  `gpus_per_eval` (Ray resources of one evaluation; fractions allowed), `max_retries`
  (Ray only: an evaluation whose worker died is retried this many times). `[search]
  workers` is the number of evaluations in flight with every kind; with Ray it is also the
  number of warm actors, each reserving `cpus_per_eval` CPUs and `gpus_per_eval` GPUs.

The built-in configs (`config_names`: default, quick, nanogpt_tiny, paper) ship with the
package in `symopt/search/config/builtin/` (`search_configs/` in a checkout); `load_config`
takes a file or one of these names (`--config quick`).

Upper bounds (`symopt.checks.SEARCH_LIMITS` and the `MAX_*` there, checked at load with an
error naming the key): population 100,000; budget 10,000,000,000 (runs or steps); workers 1,024;
hall_of_fame 10,000; stall_after 1,000,000; [task] and [[funnel]] seeds: at most 100 seeds,
each below 2^31; lr_multipliers at most 32; task overrides: steps at most 10,000,000,
other integer fields in [1, 1,000,000]; [mutation] max_statements 1,000
(`symopt.lang.parser.MAX_STATEMENTS`), max_tries 100,000.

>>> cfg = SearchConfig.from_dict({"search": {"population": 8, "budget": 20},
...                               "task": {"name": "quadratic"}})
>>> cfg.search.population, cfg.search.tournament, cfg.task.seeds
(8, 2, (0,))
>>> SearchConfig.from_dict({"search": {"populaton": 8}}, source="c.toml")
Traceback (most recent call last):
...
symopt.errors.UserError: c.toml: search.populaton: unknown key (did you mean 'population'?)
>>> SearchConfig.from_dict({"funnel": [{}, {"top_k": 0}]}, source="c.toml")
Traceback (most recent call last):
...
symopt.errors.UserError: c.toml: funnel.2.top_k: must be at least 1 (got 0)
"""

from __future__ import annotations

import dataclasses
import errno
import json
import math
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

from symopt import checks
from symopt.config_table import NO_VALUE, at, error, read_table
from symopt.errors import UserError
from symopt.files import builtin_or_path, load_toml
from symopt.search.config.sections import (
    EXECUTOR_KINDS,
    CacheSection,
    ExecutorSection,
    FunnelStage,
    HurdlesSection,
    MutationConfig,
    SearchSection,
    TaskSection,
    parse_address,
)

#: `[search] method`: how candidates are proposed (see the module docstring).
Method = Literal["evolution", "constants", "random"]
METHODS: tuple[Method, ...] = get_args(Method)
#: Largest accepted values (section, key) -> bound: `symopt.checks.SEARCH_LIMITS`.
LIMITS = checks.SEARCH_LIMITS


@dataclass(frozen=True)
class SearchConfig:
    search: SearchSection = field(default_factory=SearchSection)
    task: TaskSection = field(default_factory=TaskSection)
    mutation: MutationConfig = field(default_factory=MutationConfig)
    cache: CacheSection = field(default_factory=CacheSection)
    funnel: tuple[FunnelStage, ...] = ()
    executor: ExecutorSection = field(default_factory=ExecutorSection)
    hurdles: HurdlesSection = field(default_factory=HurdlesSection)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> SearchConfig:
        """Validate a parsed TOML document (see the module docstring for the keys)."""
        cfg = read_table(cls, data, source)
        cfg._check_values(source)
        return cfg

    def _check_values(self, source: str) -> None:
        s, t = self.search, self.task

        def bad(section: str | int, key: str, why: str, value: Any = NO_VALUE) -> UserError:
            return error(at(source, section, key), why, value)

        for key in ("population", "tournament", "budget", "workers", "hall_of_fame",
                    "snapshot_every", "stall_after", "batch"):
            checks.at_least(getattr(s, key), 1, at(source, "search", key))
        for (section, key), limit in LIMITS.items():
            if section == "search" and getattr(s, key) > limit:
                raise bad("search", key, f"must be at most {limit:,}", getattr(s, key))
        if s.budget_unit not in ("runs", "steps"):
            raise bad("search", "budget_unit", "must be 'runs' or 'steps'", s.budget_unit)
        if s.lr_probe:
            checks.lr_multipliers(s.lr_probe, at(source, "search", "lr_probe"))
        if s.on_stall not in ("restart", "stop"):
            raise bad("search", "on_stall", "must be 'restart' or 'stop'", s.on_stall)
        if len(t.seeds) > LIMITS["task", "seeds"]:
            raise bad("task", "seeds", f"{len(t.seeds)} seeds; at most "
                      f"{LIMITS['task', 'seeds']} are allowed")
        if any(seed > LIMITS["task", "seed"] for seed in t.seeds):
            raise bad("task", "seeds", "seeds must be below 2^31", max(t.seeds))
        for key in ("max_candidates", "restart_after"):
            checks.at_least(getattr(s, key), 0, at(source, "search", key))
        if s.tournament > s.population:
            raise bad("search", "tournament", f"{s.tournament} is larger than the population "
                      f"({s.population})")
        if s.restart_from not in ("seed", "best"):
            raise bad("search", "restart_from", "must be 'seed' or 'best'", s.restart_from)
        if not t.seeds:
            raise bad("task", "seeds", "needs at least one seed")
        if any(seed < 0 for seed in t.seeds):
            raise bad("task", "seeds", "seeds must be non-negative", min(t.seeds))
        if t.lr_multipliers is not None:
            checks.lr_multipliers(t.lr_multipliers, at(source, "task", "lr_multipliers"))
        checks.time_limit(t.time_limit_s, at(source, "task", "time_limit_s"))
        if s.method not in METHODS:
            raise bad("search", "method", f"must be one of {', '.join(METHODS)}", s.method)
        for i, stage in enumerate(self.funnel, 1):
            checks.bounded(stage.top_k, 1, checks.SEARCH_LIMITS["search", "population"],
                           at(source, "funnel", i, "top_k"))
            if not stage.seeds or any(seed < 0 for seed in stage.seeds):
                raise bad(f"funnel.{i}", "seeds", "needs at least one seed; seeds are "
                          "non-negative", list(stage.seeds))
            if (len(stage.seeds) > checks.MAX_SEEDS
                    or max(stage.seeds) > checks.MAX_SEED_VALUE):
                raise bad(f"funnel.{i}", "seeds", f"at most {checks.MAX_SEEDS} seeds, each "
                          "below 2^31", list(stage.seeds))
            checks.lr_multipliers(stage.lr_multipliers, at(source, "funnel", i, "lr_multipliers"))
            checks.time_limit(stage.time_limit_s, at(source, "funnel", i, "time_limit_s"))
        for key, why in self.hurdles.problems():
            raise bad("hurdles", key, why, getattr(self.hurdles, key))
        if len(self.hurdles.at) > checks.MAX_LIST:
            raise bad("hurdles", "at", f"{len(self.hurdles.at)} points; at most {checks.MAX_LIST}")
        if len(self.funnel) > checks.MAX_LIST:
            raise error(at(source, "funnel"), f"{len(self.funnel)} stages; at most "
                        f"{checks.MAX_LIST}")
        checks.engine(t.engine, at(source, "task", "engine"))
        if s.batch > 1 and t.engine != "interpreted":
            raise bad("search", "batch", "population-parallel training runs the interpreter; "
                      "set task.engine = \"interpreted\" or batch = 1", s.batch)
        self._check_executor(bad)

    def _check_executor(self, bad) -> None:
        e = self.executor
        if e.kind not in EXECUTOR_KINDS:
            raise bad("executor", "kind", "must be one of "
                      f"{', '.join(map(repr, EXECUTOR_KINDS))}", e.kind)
        try:
            parse_address(e.address)
        except ValueError:
            raise bad("executor", "address", "must be '', 'auto', 'host:port' or "
                      "'ray://host:port'", e.address) from None
        if e.address and e.kind != "ray":
            raise bad("executor", "address", "only a Ray executor has an address (kind = 'ray',"
                      " or --executor ray)", e.address)
        for key in ("cpus_per_eval", "gpus_per_eval"):
            value = getattr(e, key)
            if not 0 <= value < math.inf:
                raise bad("executor", key, "must be 0 or more", value)
        if e.gpus_per_eval > 1 and e.gpus_per_eval != int(e.gpus_per_eval):
            raise bad("executor", "gpus_per_eval", "above 1 it must be a whole number of GPUs",
                      e.gpus_per_eval)
        if e.kind == "ray" and e.cpus_per_eval == 0 and e.gpus_per_eval == 0:
            raise bad("executor", "cpus_per_eval", "an evaluation needs some CPU or GPU; "
                      "set cpus_per_eval or gpus_per_eval above 0")
        if e.max_retries < 0:
            raise bad("executor", "max_retries", "must be 0 or more", e.max_retries)
        if e.kind == "inline" and self.search.workers != 1:
            raise bad("executor", "kind", f"'inline' runs one evaluation at a time, but "
                      f"search.workers = {self.search.workers}; use 'process' or 'ray'")

    def check_task(self, source: str = "config") -> None:
        """`UserError` naming `task.name` or `task.overrides` (`funnel.N.task` or
        `funnel.N.overrides`) if the task cannot be built (imports the tasks, hence JAX;
        `from_dict` stays light)."""
        from symopt.tasks import get_task

        try:
            get_task(self.task.name, **self.task.overrides)
        except UserError as err:
            key = "name" if self.task.name not in _task_names() else "overrides"
            raise error(at(source, "task", key), str(err)) from None
        for i, stage in enumerate(self.funnel, 1):
            try:
                get_task(stage.task, **stage.overrides)
            except UserError as err:
                key = "task" if stage.task not in _task_names() else "overrides"
                raise error(at(source, "funnel", i, key), str(err)) from None

    def to_dict(self) -> dict[str, Any]:
        """The config as plain data (the inverse of `from_dict`)."""
        out: dict[str, Any] = {
            "search": dataclasses.asdict(self.search),
            "task": {**self.task.spec(), "engine": self.task.engine},
            "mutation": self.mutation.to_dict(), "cache": dataclasses.asdict(self.cache),
            "executor": dataclasses.asdict(self.executor)}
        out["search"]["lr_probe"] = list(self.search.lr_probe)  # as JSON gives it back
        if self.hurdles.at:  # absent when off, like the funnel
            out["hurdles"] = self.hurdles.to_dict()
        if out["task"]["lr_multipliers"] is None:
            del out["task"]["lr_multipliers"]
        if out["task"]["time_limit_s"] is None:
            del out["task"]["time_limit_s"]
        if self.funnel:  # absent when empty: stores written before funnels read the same
            out["funnel"] = [stage.to_dict() for stage in self.funnel]
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def with_search(self, **changes: Any) -> SearchConfig:
        """A copy with some `[search]` keys changed (validated, e.g. CLI overrides).

        >>> SearchConfig().with_search(budget=5).search.budget
        5
        """
        merged = {**dataclasses.asdict(self.search), **changes}
        search = read_table(SearchSection, merged, "command line", "search")
        cfg = dataclasses.replace(self, search=search)
        cfg._check_values("command line")
        return cfg

    def with_executor(self, **changes: Any) -> SearchConfig:
        """A copy with some `[executor]` keys changed (validated, e.g. `--executor ray`).

        >>> SearchConfig().with_executor(kind="ray", address="auto").executor.address
        'auto'
        """
        merged = {**dataclasses.asdict(self.executor), **changes}
        executor = read_table(ExecutorSection, merged, "command line", "executor")
        cfg = dataclasses.replace(self, executor=executor)
        cfg._check_values("command line")
        return cfg


CONFIG_SUFFIX = ".toml"


def _configs_folder() -> Path:
    # The built-in configs ship with the package (`search_configs/` in a checkout links here).
    return Path(str(resources.files("symopt.search.config") / "builtin"))


def config_names() -> list[str]:
    """The names of the built-in search configs (`--config NAME`), sorted.

    >>> config_names()
    ['default', 'nanogpt_tiny', 'paper', 'quick']
    """
    return sorted(p.stem for p in _configs_folder().glob("*" + CONFIG_SUFFIX))


def default_config_path() -> Path:
    """The built-in `default` config, shipped with the package: the config of `symopt
    search` without --config (the nanogpt-tiny proxy, about 15 minutes on a 2-core CPU,
    and its funnel), found from any directory.

    >>> default_config_path().name
    'default.toml'
    """
    return resolve_config("default")


def resolve_config(spec: str | os.PathLike) -> Path:
    """Where a config named on a command line lives: an existing file wins, then a built-in
    name (``quick`` or ``quick.toml``, see `config_names`); anything else is returned as
    given (`load_config` then reports the missing file with the built-in names).

    >>> resolve_config("quick").parent == resolve_config("default.toml").parent
    True
    >>> resolve_config("no/such.toml")
    PosixPath('no/such.toml')
    """
    return builtin_or_path(spec, _configs_folder(), CONFIG_SUFFIX)


def load_config(path: str | os.PathLike) -> SearchConfig:
    """Read and validate a TOML search config: a file, or a built-in name (`resolve_config`).

    >>> load_config("quick").task.name
    'quadratic'
    """
    path = resolve_config(path)
    if not os.path.lexists(path) and not _too_long(path):
        raise UserError(f"{path}: config file not found (built-in configs: "
                        f"{', '.join(config_names())})")
    data = load_toml(path)
    config = SearchConfig.from_dict(data, source=str(path))
    config.check_task(str(path))
    return config


def _too_long(path: Path) -> bool:
    try:
        os.lstat(path)
    except OSError as err:
        return err.errno != errno.ENOENT
    return False


def _task_names() -> list[str]:
    from symopt.tasks import list_tasks

    return list_tasks()
