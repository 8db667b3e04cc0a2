"""The durable run store: one SQLite file per run directory, committed per candidate.

`run.sqlite` holds the config and seed programs (`meta`), every candidate with its
program text, parent, mutation, hash, fingerprint, fitness, status, timings and the
Ray node that trained it (`candidates`; `node_id` is added to older stores when they are
opened), population snapshots (`snapshots`), funnel evaluations (`funnel`), search
sessions with their wall time, mutation failures and how they ended (`sessions`),
validation curves of some candidates (`curves`, filled by `symopt report`) and the
mutation operators' counts and weights (`operators`); these and the candidates' `steps`
and `probe_steps` columns are added to older stores when they are opened. The population
of aging evolution is recoverable from it at any time: the latest snapshot, followed by
every candidate stored after it, last P kept. The tables, the records that mirror them
and how an older store is extended are in `symopt.search.storage.schema`; this module
holds the queries.
`best.prog` and `hall_of_fame.csv` are rewritten atomically (`write_atomic`: temp file +
`os.replace`) so they are always complete.

>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> store = RunStore.create(d, {"search": {}}, [("sgd.prog", "def train(w, g, lr): ...")])
>>> a = store.add(CandidateRecord(program_text="p", fitness=1.0, status="ok", hash="h1"))
>>> b = store.add(CandidateRecord(program_text="q", fitness=0.5, status="ok", hash="h2",
...                               parent_id=a))
>>> store.add_snapshot([a, a, a], reason="warm start", after_id=a)
>>> store.population(3), [r.id for r in store.best(5)]
([1, 1, 2], [2, 1])
>>> store.close()
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from symopt.errors import UserError
from symopt.search.storage.guard import CorruptStoreError, GuardedConnection, StoreWriteError
from symopt.search.storage.schema import (
    COLUMN_TYPES,
    COLUMNS,
    FUNNEL_COLUMNS,
    TEXT,
    CandidateRecord,
    FunnelRecord,
    connect,
)

STORE_NAME = "run.sqlite"
VERSION = "1"
#: Integer columns hold at most this (ids and counts far from SQLite's 64-bit limit, so
#: that `gen_index + 1` never overflows).
_BIG = 2**53
_ID_RANGE = {name: (-_BIG if name in ("gen_index", "parent_id") else 0, _BIG)
             for name in ("gen_index", "parent_id", "tries", "cache_hit", "statements",
                          "live_statements")}


class RunStore:
    """A run directory's SQLite store (see the module docstring)."""

    def __init__(self, run_dir: Path, db: GuardedConnection):
        self.run_dir = run_dir
        self._db = db

    @classmethod
    def create(cls, run_dir: str | os.PathLike, config: dict[str, Any],
               seeds: list[tuple[str, str]]) -> RunStore:
        """A new store in `run_dir` (created if needed); refuses an existing run."""
        run_dir = Path(run_dir)
        if (run_dir / STORE_NAME).exists():
            raise UserError(f"{run_dir}: already holds a run; use --resume {run_dir} to "
                            f"continue it, or choose another --out")
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UserError(f"{run_dir}: cannot create the run directory: {err.strerror}") from None
        store = cls(run_dir, connect(run_dir / STORE_NAME))
        with store._db:
            store._db.executemany("INSERT INTO meta VALUES (?, ?)", [
                ("version", VERSION), ("created", repr(time.time())),
                ("config", json.dumps(config, sort_keys=True)),
                ("seeds", json.dumps([{"path": p, "text": t} for p, t in seeds])),
            ])
        return store

    @classmethod
    def open(cls, run_dir: str | os.PathLike) -> RunStore:
        """The store of an existing run (`UserError` if there is none)."""
        run_dir = Path(run_dir)
        path = run_dir / STORE_NAME
        if not path.is_file():
            raise UserError(f"{run_dir}: no run to resume here ({STORE_NAME} not found)")
        store = cls(run_dir, connect(path, create=False))
        try:
            version = store.meta("version")
            if version is None:
                raise CorruptStoreError(f"{path}: not a symopt run store (no version in its "
                                        f"meta table)")
            if version != VERSION:
                raise CorruptStoreError(f"{path}: a run store of schema version {version[:20]!r}"
                                        f"; this symopt reads version {VERSION} (a newer "
                                        f"symopt wrote it, or the file was changed)")
            store.config, store.seeds  # noqa: B018 - validated on read
        except sqlite3.DatabaseError as err:
            store.close()
            raise CorruptStoreError(f"{path}: not a usable run store: {err}") from None
        except UserError:
            store.close()
            raise
        return store

    @property
    def path(self) -> Path:
        return self.run_dir / STORE_NAME

    # -- meta ------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def _meta_json(self, key: str, default: str) -> Any:
        raw = self.meta(key)
        try:
            return json.loads(default if raw is None else raw)
        except (TypeError, ValueError) as err:
            raise CorruptStoreError(f"{self.path}: meta {key!r} is not JSON ({err}); the run "
                                    f"cannot be resumed from this file") from None

    @property
    def config(self) -> dict[str, Any]:
        config = self._meta_json("config", "{}")
        if not isinstance(config, dict):
            raise CorruptStoreError(f"{self.path}: meta 'config' is not a table of sections")
        search = config.get("search")
        if isinstance(search, dict) and "seed" in search and "random_seed" not in search:
            # a run stored before `[search] seed` became `random_seed`: nothing for its user
            # to fix, so no deprecation message
            search["random_seed"] = search.pop("seed")
        return config

    @property
    def seeds(self) -> list[tuple[str, str]]:
        seeds = self._meta_json("seeds", "[]")
        if not isinstance(seeds, list) or not all(
                isinstance(s, dict) and isinstance(s.get("path"), str)
                and isinstance(s.get("text"), str) for s in seeds):
            raise CorruptStoreError(f"{self.path}: meta 'seeds' is not a list of "
                                    f"{{path, text}} seed programs")
        return [(s["path"], s["text"]) for s in seeds]

    def source(self, record: CandidateRecord) -> str:
        """How errors about a stored candidate name it: the store and the candidate id."""
        return f"{self.path} (candidate {record.id})"

    # -- candidates ------------------------------------------------------------------
    def add(self, record: CandidateRecord) -> int:
        """Store a candidate durably (committed before returning); returns its id."""
        if not record.created:
            record.created = time.time()
        values = [getattr(record, c) for c in COLUMNS]
        if not math.isfinite(record.fitness):
            values[COLUMNS.index("fitness")] = None
        with self._db:
            cur = self._db.execute(
                f"INSERT INTO candidates ({', '.join(COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(COLUMNS))})", values)
        record.id = int(cur.lastrowid or 0)
        return record.id

    def get(self, candidate_id: int) -> CandidateRecord:
        rows = self._select("WHERE id=?", (candidate_id,))
        if not rows:
            raise KeyError(candidate_id)
        return rows[0]

    def candidates(self) -> list[CandidateRecord]:
        """Every stored candidate, in storage order."""
        return self._select("ORDER BY id")

    def count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM candidates").fetchone()[0]

    def best(self, n: int) -> list[CandidateRecord]:
        """The `n` fittest candidates with distinct hashes (ties: earliest first)."""
        rows = self._rows("WHERE fitness IS NOT NULL ORDER BY fitness, id")
        seen, out = set(), []
        for r in rows:  # read (and validate) only as far as the n-th distinct program
            key = r.hash or r.program_text
            if key not in seen:
                seen.add(key)
                out.append(r)
                if len(out) == n:
                    break
        return out

    def _select(self, clause: str, params: tuple = ()) -> list[CandidateRecord]:
        return list(self._rows(clause, params))

    def _rows(self, clause: str, params: tuple = ()) -> Iterator[CandidateRecord]:
        cur = self._db.execute(f"SELECT id, {', '.join(COLUMNS)} FROM candidates {clause}",
                               params)
        for row in cur:
            self._check_row(row)
            rec = CandidateRecord(**dict(zip(COLUMNS, row[1:], strict=True)), id=row[0])
            rec.fitness = math.inf if rec.fitness is None else rec.fitness
            rec.cache_hit = bool(rec.cache_hit)
            yield rec

    # -- funnel ----------------------------------------------------------------------
    def add_funnel(self, record: FunnelRecord) -> int:
        """Store a funnel evaluation durably; returns its id."""
        if not record.created:
            record.created = time.time()
        values = [getattr(record, c) for c in FUNNEL_COLUMNS]
        for name in ("fitness", "seed_fitness"):
            value = getattr(record, name)
            if value is not None and not math.isfinite(value):
                values[FUNNEL_COLUMNS.index(name)] = None
        with self._db:
            cur = self._db.execute(
                f"INSERT INTO funnel ({', '.join(FUNNEL_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(FUNNEL_COLUMNS))})", values)
        record.id = int(cur.lastrowid or 0)  # an INSERT sets it
        return record.id

    def funnel_records(self) -> list[FunnelRecord]:
        """Every stored funnel evaluation, in storage order (a finite fitness or inf)."""
        cur = self._db.execute(f"SELECT id, {', '.join(FUNNEL_COLUMNS)} FROM funnel ORDER BY id")
        out = []
        for row in cur:
            rec = FunnelRecord(**dict(zip(FUNNEL_COLUMNS, row[1:], strict=True)), id=row[0])
            rec.fitness = math.inf if rec.fitness is None else rec.fitness
            rec.is_seed = bool(rec.is_seed)
            rec.passed = None if rec.passed is None else bool(rec.passed)
            out.append(rec)
        return out

    def _check_row(self, row: tuple) -> None:
        for name, value in zip(COLUMNS, row[1:], strict=True):
            types, nullable = COLUMN_TYPES[name]
            if value is None and nullable:
                continue
            expected = None
            if isinstance(value, bool) or not isinstance(value, types):
                expected = ("text" if types is TEXT else "a number") + (
                    " or NULL" if nullable else "")
            elif name == "fitness" and not math.isfinite(cast(float, value)):  # a number here
                expected = "a finite number or NULL (a failed run)"
            elif (name in _ID_RANGE and isinstance(value, int)
                  and not _ID_RANGE[name][0] <= value <= _ID_RANGE[name][1]):
                expected = f"an integer in [{_ID_RANGE[name][0]}, {_ID_RANGE[name][1]}]"
            if expected is not None:
                shown = repr(value)
                shown = shown if len(shown) <= 60 else shown[:57] + "..."
                raise CorruptStoreError(
                    f"{self.path}: candidate {row[0]}: column {name} holds {shown}, expected "
                    f"{expected}; the store was changed outside symopt. "
                    f"Restore run.sqlite from a copy, or remove that candidate "
                    f"(sqlite3 {self.path} 'DELETE FROM candidates WHERE id = {row[0]}') "
                    f"and resume")

    # -- population ------------------------------------------------------------------
    def add_snapshot(self, members: list[int], reason: str, after_id: int | None = None) -> None:
        """Record the population (candidate ids, oldest first) as of candidate `after_id`."""
        if after_id is None:
            after_id = self._db.execute("SELECT COALESCE(MAX(id), 0) FROM candidates").fetchone()[0]
        with self._db:
            self._db.execute(
                "INSERT INTO snapshots (after_id, reason, members, created) VALUES (?, ?, ?, ?)",
                (after_id, reason, json.dumps(members), time.time()))

    def snapshots(self) -> list[tuple[int, str]]:
        """`(after_id, reason)` of every population snapshot, oldest first."""
        out = []
        for snap_id, after, reason in self._db.execute(
                "SELECT id, after_id, reason FROM snapshots ORDER BY id"):
            if isinstance(after, bool) or not isinstance(after, int) or not isinstance(reason, str):
                raise CorruptStoreError(f"{self.path}: population snapshot {snap_id}: after_id "
                                        f"{after!r} or reason {reason!r} is not what symopt "
                                        f"writes; {_SNAPSHOT_WAY_OUT}")
            out.append((after, reason))
        return out

    def snapshot_members(self) -> list[tuple[int, list[int]]]:
        """`(after_id, member ids)` of every population snapshot, oldest first."""
        out = []
        for snap_id, after, members in self._db.execute(
                "SELECT id, after_id, members FROM snapshots ORDER BY id"):
            problem = self._snapshot_problem(after, members, check_ids=False)
            if problem is not None:
                raise CorruptStoreError(f"{self.path}: population snapshot {snap_id}: "
                                        f"{problem}; {_SNAPSHOT_WAY_OUT}")
            out.append((after, json.loads(members)))
        return out

    def population(self, size: int, *, skip_corrupt: bool = False) -> list[int]:
        """The current population (ids, oldest first): latest snapshot + later candidates.

        A corrupt latest snapshot is a `CorruptStoreError` naming it; with `skip_corrupt`,
        the latest *good* one is used instead (corrupt ones stay in the store, unused).
        """
        after, members = 0, []
        for snap_id, snap_after, raw in self._db.execute(
                "SELECT id, after_id, members FROM snapshots ORDER BY id DESC"):
            problem = self._snapshot_problem(snap_after, raw)
            if problem is None:
                after, members = snap_after, json.loads(raw)
                break
            if not skip_corrupt:
                raise CorruptStoreError(
                    f"{self.path}: population snapshot {snap_id} (after candidate "
                    f"{snap_after!r}): {problem}; {_SNAPSHOT_WAY_OUT}")
        later = [r[0] for r in self._db.execute(
            "SELECT id FROM candidates WHERE id > ? ORDER BY id", (after,))]
        return (members + later)[-size:]

    # -- sessions and curves (tables added later: absent rows in older stores) ----------
    def begin_session(self) -> int:
        """Record that a search session starts now; returns its id for `end_session`."""
        with self._db:
            cur = self._db.execute("INSERT INTO sessions (started) VALUES (?)", (time.time(),))
        return int(cur.lastrowid or 0)  # an INSERT sets it

    def update_session(self, session_id: int, *, invalid_children: int, invalid_tries: int,
                       end_reason: str | None = None) -> None:
        """Record a session's mutation failures and wall time so far; `end_reason` (e.g.
        "budget reached", "interrupted") marks it finished. A killed session keeps its
        last update and no end reason."""
        with self._db:
            self._db.execute(
                "UPDATE sessions SET ended=?, end_reason=?, invalid_children=?, invalid_tries=? "
                "WHERE id=?", (time.time(), end_reason, invalid_children, invalid_tries,
                               session_id))

    def sessions(self) -> list[dict[str, Any]]:
        """Every session, oldest first: `started`, `ended` (None: never updated),
        `end_reason` (None: still running or killed), `invalid_children`, `invalid_tries`."""
        cur = self._db.execute("SELECT started, ended, end_reason, invalid_children, "
                               "invalid_tries FROM sessions ORDER BY id")
        keys = ("started", "ended", "end_reason", "invalid_children", "invalid_tries")
        out = []
        for n, row in enumerate(cur, 1):
            started, ended, reason, children, tries = row
            if not (_number(started) and (ended is None or _number(ended))
                    and (reason is None or isinstance(reason, str))
                    and _count(children) and _count(tries)):
                raise CorruptStoreError(f"{self.path}: session {n}: {_short(row)} is not what "
                                        f"symopt writes; restore run.sqlite from a copy")
            out.append(dict(zip(keys, row)))
        return out

    def set_curve(self, candidate_id: int, task_seed: int, steps: list[int],
                  val_loss: list[float]) -> None:
        """Store the validation curve of a candidate trained with one task seed."""
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO curves VALUES (?, ?, ?, ?)",
                             (candidate_id, task_seed, json.dumps(list(steps)),
                              json.dumps([_json_number(v) for v in val_loss])))

    def curves(self, candidate_id: int) -> dict[int, tuple[list[int], list[float]]]:
        """`{task_seed: (steps, validation losses)}` stored for a candidate."""
        cur = self._db.execute("SELECT task_seed, steps, val_loss FROM curves "
                               "WHERE candidate_id=? ORDER BY task_seed", (candidate_id,))
        out = {}
        for seed, steps, vals in cur:
            try:
                xs, ys = json.loads(steps), json.loads(vals)
                if not (isinstance(xs, list) and isinstance(ys, list) and len(xs) == len(ys)
                        and all(_count(x) for x in xs)
                        and all(y is None or _number(y) for y in ys)):
                    raise ValueError("not two lists of numbers of the same length")
            except (TypeError, ValueError) as err:
                raise CorruptStoreError(f"{self.path}: curve of candidate {candidate_id} "
                                        f"(task seed {seed!r}): {err}; delete it (sqlite3 "
                                        f"{self.path} 'DELETE FROM curves') to have it "
                                        f"retrained") from None
            out[seed] = (xs, [math.inf if v is None else v for v in ys])
        return out

    def set_operator_stats(self, after_id: int,
                           stats: dict[str, tuple[int, int, float]]) -> None:
        """Record each operator's (children, successes, weight) as of candidate `after_id`."""
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO operators VALUES (?, ?, ?, ?, ?)",
                                 [(after_id, op, c, k, w) for op, (c, k, w) in stats.items()])

    def operator_stats(self) -> list[tuple[int, str, int, int, float]]:
        """`(after_id, operator, children, successes, weight)` rows, oldest first."""
        return [tuple(r) for r in self._db.execute(
            "SELECT after_id, operator, children, successes, weight FROM operators "
            "ORDER BY after_id, rowid")]

    def table(self, name: str) -> list[dict[str, Any]] | None:
        """The rows of an optional table (e.g. a funnel) as dicts; None if there is none."""
        exists = self._db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                                  (name,)).fetchone()
        if exists is None:
            return None
        cur = self._db.execute(f'SELECT * FROM "{name}"')
        keys = [d[0] for d in cur.description]
        return [dict(zip(keys, row)) for row in cur]

    def _snapshot_problem(self, after: Any, raw: Any, check_ids: bool = True) -> str | None:
        """What is wrong with one snapshot row, or None if it is good."""
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            return f"after_id {after!r} is not a candidate id"
        try:
            members = json.loads(raw) if isinstance(raw, str | bytes) else None
        except ValueError as err:
            return f"its members are not JSON ({err})"
        if not isinstance(members, list) or not all(
                isinstance(m, int) and not isinstance(m, bool) for m in members):
            return "its members are not a JSON list of candidate ids"
        if not check_ids:
            return None
        ids = sorted(set(members))
        found: set[int] = set()
        for k in range(0, len(ids), 500):
            chunk = ids[k:k + 500]
            found.update(r[0] for r in self._db.execute(
                f"SELECT id FROM candidates WHERE id IN ({', '.join('?' * len(chunk))})", chunk))
        missing = [i for i in ids if i not in found]
        if missing:
            return (f"it names candidate id(s) {', '.join(map(str, missing[:5]))}"
                    f"{', ...' if len(missing) > 5 else ''} that are not in the store")
        return None

    def close(self) -> None:
        self._db.close()


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _count(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= _BIG


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _json_number(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None

_SNAPSHOT_WAY_OUT = ("the store keeps the earlier snapshots: resume with "
                     "`symopt search --resume RUN --from-good-snapshot` to continue from the "
                     "last good one (the corrupt one is kept, unused)")


def write_atomic(path: str | Path, text: str) -> None:
    """Write `text` to `path` so that readers see the old or the new file, never a part.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> write_atomic(p, "hello"); p.read_text()
    'hello'
    """
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a directory, where symopt writes a file; move it away")
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise StoreWriteError(f"{path}: cannot write: {err.strerror or err}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise StoreWriteError(f"{path}: cannot write: {err.strerror or err}") from None
        raise
