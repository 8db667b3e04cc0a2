"""SQLite errors as user errors that name the store: `guard(connection, path)`.

A store's connection is wrapped so that every `sqlite3.Error` its queries raise — while
executing, while reading rows, or while committing — becomes a `UserError` naming the
file: a full disk or a read-only directory is a `StoreWriteError` (the rows committed
before stay: every row is its own transaction), text that is not UTF-8 or a malformed
file is a `CorruptStoreError`. The CLI prints either as one line and exits 2.

>>> import sqlite3
>>> db = guard(sqlite3.connect(":memory:"), "run.sqlite")
>>> db.execute("SELECT 1").fetchone()
(1,)
>>> db.execute("SELECT nope FROM missing")
Traceback (most recent call last):
...
symopt.search.storage.guard.CorruptStoreError: run.sqlite: not a usable store: no such \
table: missing
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from symopt.errors import UserError


class CorruptStoreError(UserError):
    """A store whose contents are not what symopt wrote; the message names the file,
    the row and what is wrong, and the way out."""


class StoreWriteError(UserError):
    """A store that cannot be written now (disk full, read-only); what it holds is kept."""


_WRITE_PROBLEMS = ("disk", "full", "readonly", "read-only", "i/o", "unable to open",
                   "locked", "permission")


def translate(err: sqlite3.Error, path: str) -> UserError:
    """The user error for `err` raised by the store at `path`."""
    text = str(err)
    if len(text) > 200:
        text = text[:200] + "..."
    low = text.lower()
    if "decode" in low and "utf-8" in low:
        return CorruptStoreError(f"{path}: a stored text is not UTF-8 ({text}); the store was "
                                 f"changed outside symopt: restore it from a copy")
    if isinstance(err, sqlite3.OperationalError) and any(p in low for p in _WRITE_PROBLEMS):
        return StoreWriteError(f"{path}: cannot write the store: {text}; everything stored "
                               f"before is kept (free disk space or make it writable, then "
                               f"resume)")
    return CorruptStoreError(f"{path}: not a usable store: {text}")


class _Cursor:
    def __init__(self, cursor: sqlite3.Cursor, path: str):
        self._cursor, self._path = cursor, path

    def __iter__(self) -> Iterator[Any]:
        while True:
            try:
                row = self._cursor.fetchone()
            except sqlite3.Error as err:
                raise translate(err, self._path) from None
            if row is None:
                return
            yield row

    def fetchone(self) -> Any:
        try:
            return self._cursor.fetchone()
        except sqlite3.Error as err:
            raise translate(err, self._path) from None

    def fetchall(self) -> list[Any]:
        return list(self)

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def description(self) -> Any:
        return self._cursor.description


class GuardedConnection:
    """A `sqlite3.Connection` whose errors name the store (see the module docstring)."""

    def __init__(self, db: sqlite3.Connection, path: str):
        self._db, self.path = db, path

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return getattr(self._db, method)(*args)
        except sqlite3.Error as err:
            raise translate(err, self.path) from None

    def execute(self, *args: Any) -> _Cursor:
        return _Cursor(self._call("execute", *args), self.path)

    def executemany(self, *args: Any) -> _Cursor:
        return _Cursor(self._call("executemany", *args), self.path)

    def executescript(self, script: str) -> None:
        self._call("executescript", script)

    def commit(self) -> None:
        self._call("commit")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> GuardedConnection:
        self._db.__enter__()
        return self

    def __exit__(self, *exc: Any) -> bool:
        try:
            return bool(self._db.__exit__(*exc))
        except sqlite3.Error as err:
            raise translate(err, self.path) from None


def guard(db: sqlite3.Connection, path: Any) -> GuardedConnection:
    """`db` with its errors turned into user errors naming `path`."""
    return GuardedConnection(db, str(path))
