"""The run store's tables and their rows: the SQL schema of `run.sqlite`, the records that
mirror its `candidates` and `funnel` tables, and opening a file as a store. The
`operators` table holds the mutation operators' counts, successes and weights as the
search went (`symopt.search.evolution.operators`), one row per operator and snapshot.

`connect` creates the tables that are missing and adds the columns newer than the first
version to stores written before them, so an older run is read and
extended, never rewritten. `symopt.search.storage.store.RunStore` holds the queries.

>>> import sqlite3, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "run.sqlite"
>>> db = connect(path)
>>> sorted(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'"))
['candidates', 'curves', 'funnel', 'meta', 'operators', 'sessions', 'snapshots']
>>> set(COLUMNS) == {c[1] for c in db.execute("PRAGMA table_info(candidates)")} - {"id"}
True
>>> db.close()
"""

from __future__ import annotations

import dataclasses
import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from symopt.errors import UserError
from symopt.search.storage.guard import GuardedConnection, guard, translate

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS candidates (
    id INTEGER PRIMARY KEY,
    gen_index INTEGER NOT NULL,
    parent_id INTEGER,
    program_text TEXT NOT NULL,
    operator TEXT NOT NULL,
    description TEXT NOT NULL,
    tries INTEGER NOT NULL,
    hash TEXT,
    fingerprint TEXT,
    fitness REAL,
    status TEXT NOT NULL,
    message TEXT NOT NULL,
    cache_hit INTEGER NOT NULL,
    statements INTEGER NOT NULL,
    live_statements INTEGER NOT NULL,
    redundant_fraction REAL NOT NULL,
    prepare_seconds REAL NOT NULL,
    eval_seconds REAL NOT NULL,
    created REAL NOT NULL,
    node_id TEXT NOT NULL DEFAULT '',
    steps INTEGER NOT NULL DEFAULT 0,
    probe_steps INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY,
    after_id INTEGER NOT NULL,
    reason TEXT NOT NULL,
    members TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS funnel (
    id INTEGER PRIMARY KEY,
    stage INTEGER NOT NULL,
    task TEXT NOT NULL,
    spec TEXT NOT NULL,
    program_hash TEXT NOT NULL,
    candidate_id INTEGER,
    is_seed INTEGER NOT NULL,
    fitness REAL,
    status TEXT NOT NULL,
    message TEXT NOT NULL,
    seed_fitness REAL,
    passed INTEGER,
    seconds REAL NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    started REAL NOT NULL,
    ended REAL,
    end_reason TEXT,
    invalid_children INTEGER NOT NULL DEFAULT 0,
    invalid_tries INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS curves (
    candidate_id INTEGER NOT NULL,
    task_seed INTEGER NOT NULL,
    steps TEXT NOT NULL,
    val_loss TEXT NOT NULL,
    PRIMARY KEY (candidate_id, task_seed)
);
CREATE TABLE IF NOT EXISTS operators (
    after_id INTEGER NOT NULL,
    operator TEXT NOT NULL,
    children INTEGER NOT NULL,
    successes INTEGER NOT NULL,
    weight REAL NOT NULL,
    PRIMARY KEY (after_id, operator)
);
"""


@dataclass
class CandidateRecord:
    """One candidate: a program and what happened to it (`id` is set when stored)."""

    program_text: str
    fitness: float = math.inf
    status: str = "ok"
    message: str = ""
    gen_index: int = -1
    parent_id: int | None = None
    operator: str = "seed"
    description: str = ""
    tries: int = 0
    hash: str | None = None
    fingerprint: str | None = None
    cache_hit: bool = False
    statements: int = 0
    live_statements: int = 0
    redundant_fraction: float = 0.0
    prepare_seconds: float = 0.0
    eval_seconds: float = 0.0
    created: float = 0.0
    node_id: str = ""  # the Ray node that trained it ("" off Ray, or a cache hit)
    steps: int = 0  # training steps it cost (seeds x multipliers; 0 for a cache hit)
    probe_steps: int = 0  # of those, the learning-rate probe's multipliers not chosen
    id: int | None = None

    @property
    def stored_id(self) -> int:
        """`id` of a record read from a store (`RuntimeError` if it was never stored).

        >>> CandidateRecord("p", id=3).stored_id
        3
        """
        if self.id is None:
            raise RuntimeError("this candidate record was never stored")
        return self.id


COLUMNS = [f.name for f in dataclasses.fields(CandidateRecord) if f.name != "id"]
NUMBER, TEXT, INT = (int, float), (str,), (int,)
#: What each column of `candidates` may hold (None: SQL NULL); anything else is corruption.
COLUMN_TYPES: dict[str, tuple[tuple[type, ...], bool]] = {
    "program_text": (TEXT, False), "fitness": (NUMBER, True), "status": (TEXT, False),
    "message": (TEXT, False), "gen_index": (INT, False), "parent_id": (INT, True),
    "operator": (TEXT, False), "description": (TEXT, False), "tries": (INT, False),
    "hash": (TEXT, True), "fingerprint": (TEXT, True), "cache_hit": (INT, False),
    "statements": (INT, False), "live_statements": (INT, False),
    "redundant_fraction": (NUMBER, False), "prepare_seconds": (NUMBER, False),
    "eval_seconds": (NUMBER, False), "created": (NUMBER, False), "node_id": (TEXT, False),
    "steps": (INT, False), "probe_steps": (INT, False),
}


@dataclass
class FunnelRecord:
    """One funnel evaluation: a program (candidate or seed) trained at one stage.

    `spec` is the stage's task spec as JSON (what the result depends on); `passed` is
    whether the candidate beat the seed's `seed_fitness` at this stage (None for the seed).
    """

    stage: int
    task: str
    spec: str
    program_hash: str
    candidate_id: int | None
    is_seed: bool
    fitness: float = math.inf
    status: str = "ok"
    message: str = ""
    seed_fitness: float | None = None
    passed: bool | None = None
    seconds: float = 0.0
    created: float = 0.0
    id: int | None = None


FUNNEL_COLUMNS = [f.name for f in dataclasses.fields(FunnelRecord) if f.name != "id"]


def connect(path: Path, create: bool = True) -> GuardedConnection:
    """A connection to the store at `path`; without `create`, the file must already hold
    the store's tables (a foreign or empty SQLite file is refused, not modified)."""
    try:
        db = sqlite3.connect(str(path), timeout=60.0)
        if not create:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            missing = {"meta", "candidates", "snapshots"} - tables
            if missing:
                db.close()
                raise UserError(f"{path}: not a symopt run store (no table "
                                f"{', '.join(sorted(missing))})")
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_SCHEMA)
        _add_missing_columns(db)
    except sqlite3.OperationalError as err:
        raise translate(err, str(path)) from None
    except sqlite3.DatabaseError as err:
        raise UserError(f"{path}: not a usable run store: {err}") from None
    return guard(db, path)


_ADDED_COLUMNS = {  # columns newer than VERSION 1
    "node_id": "TEXT NOT NULL DEFAULT ''",
    "steps": "INTEGER NOT NULL DEFAULT 0",
    "probe_steps": "INTEGER NOT NULL DEFAULT 0",
}


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """Stores written before a column existed get it, with its default (old rows keep
    their values; older symopt versions still read the store)."""
    have = {row[1] for row in db.execute("PRAGMA table_info(candidates)")}
    with db:
        for name, decl in _ADDED_COLUMNS.items():
            if name not in have:
                db.execute(f"ALTER TABLE candidates ADD COLUMN {name} {decl}")
