"""The sections of a search config: one frozen dataclass per TOML table, with its defaults,
and how a table is read into one.

`read_section` checks a parsed table against a section's fields: an unknown key is a
`UserError` naming the source, the section and the key (with a "did you mean" hint), a
value of the wrong type one naming the expected type. What the keys mean, and the checks
across keys, are `symopt.search.config`'s.

>>> read_section(ExecutorSection, {"kind": "ray", "cpus_per_eval": 2}, "c.toml", "executor")
ExecutorSection(kind='ray', address='', cpus_per_eval=2.0, gpus_per_eval=0.0, max_retries=2)
>>> read_section(CacheSection, {"fingerprint": "yes"}, "c.toml", "cache")
Traceback (most recent call last):
...
symopt.errors.UserError: c.toml: [cache] fingerprint: expected true or false, got 'yes'
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from typing import Any

from symopt import checks
from symopt.errors import UserError


@dataclass(frozen=True)
class SearchSection:
    population: int = 100
    tournament: int = 2
    budget: int = 200
    max_candidates: int = 0
    seed: int = 0
    workers: int = 1
    restart_after: int = 0
    restart_from: str = "best"
    hall_of_fame: int = 20
    snapshot_every: int = 100
    method: str = "evolution"
    stall_after: int = 100
    on_stall: str = "restart"
    batch: int = 1

    @property
    def candidate_limit(self) -> int:
        return self.max_candidates or 50 * self.budget


@dataclass(frozen=True)
class TaskSection:
    name: str = "quadratic"
    seeds: tuple[int, ...] = (0,)
    lr_multipliers: tuple[float, ...] | None = None
    time_limit_s: float | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    engine: str = checks.DEFAULT_ENGINE

    def spec(self) -> dict[str, Any]:
        """A JSON-able description of the task: what an evaluation depends on. The engine
        is not part of it (both give the same fitness), so caches are shared."""
        return {"name": self.name, "seeds": list(self.seeds),
                "lr_multipliers": (None if self.lr_multipliers is None
                                   else list(self.lr_multipliers)),
                "time_limit_s": self.time_limit_s,
                "overrides": dict(sorted(self.overrides.items()))}


@dataclass(frozen=True)
class FunnelStage:
    """One `[[funnel]]` stage: re-evaluate the best `top_k` candidates and the seed on
    `task`, each trained under every multiplier of `lr_multipliers` (best kept)."""

    task: str = "nanogpt-small"
    top_k: int = 5
    seeds: tuple[int, ...] = (0,)
    lr_multipliers: tuple[float, ...] = (0.5, 1.0, 2.0)
    time_limit_s: float | None = None
    overrides: dict[str, Any] = field(default_factory=dict)

    def spec(self) -> dict[str, Any]:
        """The task spec of this stage (same shape as `TaskSection.spec`)."""
        return {"name": self.task, "seeds": list(self.seeds),
                "lr_multipliers": list(self.lr_multipliers), "time_limit_s": self.time_limit_s,
                "overrides": dict(sorted(self.overrides.items()))}

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["seeds"], out["lr_multipliers"] = list(self.seeds), list(self.lr_multipliers)
        if self.time_limit_s is None:
            del out["time_limit_s"]
        return out


@dataclass(frozen=True)
class CacheSection:
    path: str = ""
    fingerprint: bool = True


@dataclass(frozen=True)
class ExecutorSection:
    kind: str = "auto"
    address: str = ""
    cpus_per_eval: float = 1.0
    gpus_per_eval: float = 0.0
    max_retries: int = 2


EXECUTOR_KINDS = ("auto", "inline", "process", "ray")


def parse_address(address: str) -> tuple[str, int] | None:
    """`(host, port)` of a Ray address, `None` for `""` / `"auto"`; `ValueError` if malformed.

    >>> parse_address("ray://10.0.0.5:10001"), parse_address("head:6379"), parse_address("")
    (('10.0.0.5', 10001), ('head', 6379), None)
    """
    if address in ("", "auto"):
        return None
    rest = address[len("ray://"):] if address.startswith("ray://") else address
    host, sep, port = rest.rpartition(":")
    if not sep or not host or "/" in rest or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(address)
    return host, int(port)


def hint(key: str, known) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(known))})"


def read_section(cls, data: Any, source: str, name: str):
    if not isinstance(data, dict):
        raise UserError(f"{source}: [{name}] must be a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in data.items():
        if key not in fields:
            raise UserError(f"{source}: [{name}] {key}: unknown key{hint(key, fields)}")
        values[key] = _coerce(value, str(fields[key].type), f"{source}: [{name}] {key}")
    return cls(**values)


def _coerce(value: Any, annotation: str, where: str) -> Any:
    ann = annotation.replace(" ", "")
    optional = ann.endswith("|None")
    if optional:
        ann = ann[: -len("|None")]
        if value is None:
            return None
    if ann == "bool":
        if not isinstance(value, bool):
            raise UserError(f"{where}: expected true or false, got {value!r}")
        return value
    if ann == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"{where}: expected an integer, got {value!r}")
        return value
    if ann == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UserError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if ann == "str":
        if not isinstance(value, str):
            raise UserError(f"{where}: expected a string, got {value!r}")
        return value
    if ann.startswith("tuple["):
        item = ann[len("tuple["):].split(",")[0]
        if not isinstance(value, list | tuple):
            raise UserError(f"{where}: expected a list, got {value!r}")
        return tuple(_coerce(v, item, where) for v in value)
    if ann.startswith("dict["):
        if not isinstance(value, dict):
            raise UserError(f"{where}: expected a table, got {value!r}")
        return dict(value)
    raise AssertionError(f"unhandled annotation {annotation}")  # a bug, not a user error
