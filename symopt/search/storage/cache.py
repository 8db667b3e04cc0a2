"""The equivalence cache: fitness by canonical hash and by numeric fingerprint.

Two programs with the same canonical hash (same dataflow after dead code is
dropped) or the same fingerprint (same numbers on fixed inputs) train the same,
so the second one reuses the first one's fitness instead of training. Entries
are namespaced by the task spec, so one cache file can be shared between runs on
different tasks. The file is SQLite in WAL mode: several searches may write it
at once.

>>> cache = EquivalenceCache(":memory:", namespace="quadratic")
>>> cache.get("hash", "abc") is None
True
>>> cache.put("abc", "fp1", 0.5, "ok")
>>> cache.get("hash", "abc"), cache.get("fingerprint", "fp1")
(CacheEntry(fitness=0.5, status='ok'), CacheEntry(fitness=0.5, status='ok'))
>>> cache.put("def", "fp2", float("inf"), "diverged")
>>> cache.get("hash", "def").fitness
inf
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from pathlib import Path
from typing import Any, NamedTuple

from symopt.errors import UserError
from symopt.files import FileError, output_file
from symopt.search.storage.guard import guard

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    namespace TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    fitness REAL,
    status TEXT NOT NULL,
    PRIMARY KEY (namespace, kind, key)
)
"""


class CacheEntry(NamedTuple):
    fitness: float
    status: str


def task_namespace(spec: dict[str, Any]) -> str:
    """A short stable name for a task spec (what an evaluation's result depends on).

    >>> task_namespace({"name": "quadratic"}) == task_namespace({"name": "quadratic"})
    True
    """
    text = json.dumps(spec, sort_keys=True)
    return spec.get("name", "task") + ":" + hashlib.sha256(text.encode()).hexdigest()[:16]


class EquivalenceCache:
    """Fitness lookups by `("hash", key)` or `("fingerprint", key)` within one namespace."""

    def __init__(self, path: str | Path, namespace: str):
        self.path = str(path)
        self.namespace = namespace
        try:
            if self.path != ":memory:":
                if Path(self.path).is_dir():
                    raise IsADirectoryError(21, "is a directory; give a file name")
                if not Path(self.path).absolute().parent.is_dir():  # no folders made for it
                    raise FileNotFoundError(2, f"its folder {Path(self.path).parent} does not "
                                               f"exist; create it first")
                output_file(self.path, "[cache] path")
            db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(_SCHEMA)
            self._db = guard(db, f"[cache] path {self.path}", self.path)
        except (OSError, sqlite3.Error, FileError) as err:
            why = getattr(err, "reason", None) or getattr(err, "strerror", None) or err
            raise UserError(f"[cache] path {self.path}: cannot use it as a cache: {why}") from None

    def get(self, kind: str, key: str | None) -> CacheEntry | None:
        """The stored entry for `key` of `kind` ("hash" or "fingerprint"), or None."""
        if not key:
            return None
        row = self._db.execute(
            "SELECT fitness, status FROM entries WHERE namespace=? AND kind=? AND key=?",
            (self.namespace, kind, key)).fetchone()
        if row is None:
            return None
        return CacheEntry(math.inf if row[0] is None else row[0], row[1])

    def put(self, hash_key: str | None, fingerprint: str | None, fitness: float,
            status: str) -> None:
        """Remember a result under its hash and (if given) its fingerprint."""
        value = fitness if math.isfinite(fitness) else None
        rows = [(self.namespace, kind, key, value, status)
                for kind, key in (("hash", hash_key), ("fingerprint", fingerprint)) if key]
        # A timeout depends on the machine, not the program: never cached.
        if status == "timeout" or not rows:
            return
        self._db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?)", rows)

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM entries WHERE namespace=?",
                                (self.namespace,)).fetchone()[0]

    def close(self) -> None:
        self._db.close()
