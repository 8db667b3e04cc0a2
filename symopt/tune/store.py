"""``DIR/tune.sqlite``: the settings of a tuning run and every trial, stored as it finishes.

>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> s = TuneStore.create(d, {"tune": {"method": "ga"}}, "def train(w, g, lr):\\n    return g\\n")
>>> s.add(TuneTrial("ga", 0, 0, {"c0": 0.5}, 1.25, "ok", "", 0.1))
>>> TuneStore.open(d).trials()[0].values
{'c0': 0.5}
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from symopt.errors import UserError
from symopt.search.storage.guard import guard

FILE = "tune.sqlite"


@dataclass(frozen=True)
class TuneTrial:
    method: str
    generation: int  # GA generation; 0 for random search; PBT: the last iteration
    index: int  # position within the generation (random search: the trial number)
    values: dict[str, float]
    fitness: float
    status: str
    message: str
    seconds: float


class TuneStore:
    def __init__(self, path: Path):
        self.path = path
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        db.execute(
            "CREATE TABLE IF NOT EXISTS trials (id INTEGER PRIMARY KEY, method TEXT, "
            "generation INTEGER, idx INTEGER, hyper TEXT, fitness REAL, status TEXT, "
            "message TEXT, seconds REAL, finished REAL, UNIQUE (method, generation, idx))")
        self.db = guard(db, path)

    @classmethod
    def create(cls, run_dir: str | Path, config: dict[str, Any], program: str,
               extra: dict[str, Any] | None = None) -> TuneStore:
        path = Path(run_dir) / FILE
        if path.exists():
            raise UserError(f"{run_dir} already holds a tuning run; continue it with --resume "
                            f"{run_dir} or choose another --out")
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        store = cls(path)
        meta = {"config": config, "program": program, **(extra or {})}
        with store.db:
            store.db.executemany("INSERT INTO meta VALUES (?, ?)",
                                 [(k, json.dumps(v)) for k, v in meta.items()])
        return store

    @classmethod
    def open(cls, run_dir: str | Path) -> TuneStore:
        path = Path(run_dir) / FILE
        if not path.is_file():
            raise UserError(f"{run_dir} holds no tuning run ({FILE} is missing)")
        try:
            store = cls(path)
            meta = store.meta()
        except (sqlite3.DatabaseError, UserError, ValueError) as err:
            raise UserError(f"{path}: not a readable tuning store ({err})") from None
        missing = [k for k in ("config", "program") if k not in meta]
        if missing or not isinstance(meta["config"], dict) or not isinstance(meta["program"], str):
            store.close()
            raise UserError(f"{path}: not a tuning store (no stored "
                            f"{' and '.join(missing) or 'valid config and program'}); "
                            f"start a new tuning run with --out")
        return store

    def meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.db.execute("SELECT key, value FROM meta")}

    def set_meta(self, key: str, value: Any) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def add(self, t: TuneTrial) -> None:
        """Store one finished trial (committed at once: a kill loses only trials in flight)."""
        self.db.execute(
            "INSERT INTO trials (method, generation, idx, hyper, fitness, status, message, "
            "seconds, finished) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (t.method, t.generation, t.index, json.dumps(t.values),
             t.fitness if math.isfinite(t.fitness) else None, t.status, t.message,
             t.seconds, time.time()))

    def trials(self) -> list[TuneTrial]:
        rows = self.db.execute("SELECT method, generation, idx, hyper, fitness, status, message,"
                               " seconds FROM trials ORDER BY id")
        return [TuneTrial(m, g, i, json.loads(h), math.inf if f is None else f, s, msg, sec)
                for m, g, i, h, f, s, msg, sec in rows]

    def close(self) -> None:
        self.db.close()
