"""SQLite errors as user errors that name the store: `guard(connection, path)`.

A store's connection is wrapped so that every `sqlite3.Error` its queries raise — while
executing, while reading rows, or while committing — becomes a `UserError` naming the
file: a full disk or a read-only directory is a `StoreWriteError` (the rows committed
before stay: every row is its own transaction), text that is not UTF-8 or a malformed
file is a `CorruptStoreError`. The CLI prints either as one line and exits 2.

SQLite writes the WAL index (the ``-shm`` file) through a shared memory map, even to
read: if that file stops being writable while the store is open (``chattr +i`` on the
run directory mid-run), the next write to the map is a SIGBUS that kills the process
without a word (exit 135). So each call first checks that a ``-shm`` that was writable
still is, and otherwise raises a `StoreWriteError` naming it — and never closes that
connection (see `abandon`).

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

import os
import sqlite3
import threading
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


# Connections whose WAL index stopped being writable: never closed (see `abandon`).
ABANDONED: list[sqlite3.Connection] = []
_keeper: threading.Thread | None = None
_keeper_lock = threading.Lock()


def _hold(connections: list[sqlite3.Connection]) -> None:
    """The keeper thread's body: its argument `connections` stays referenced for good."""
    threading.Event().wait()


def abandon(db: sqlite3.Connection) -> None:
    """Keep `db` open, unused, until the process ends: closing it writes the WAL index
    (even with checkpoint-on-close off), which is the SIGBUS again. That includes the
    close at Python's exit, when the modules' variables are cleared and every object they
    held is deallocated — so a module-level list alone is not enough. `ABANDONED` is also
    referenced by the frame of a daemon thread that waits for ever; Python stops daemon
    threads at exit without unwinding them ("their resources ... may not be released",
    the `threading` docs), so the connections are never deallocated and the process's
    exit releases them. The rows committed to the WAL are read back by the next
    connection.

    >>> db = sqlite3.connect(":memory:")
    >>> abandon(db)
    >>> keepers = [t for t in threading.enumerate() if t.name == "symopt-abandoned-stores"]
    >>> db in ABANDONED, [t.daemon for t in keepers]
    (True, [True])
    """
    global _keeper
    with _keeper_lock:
        if not any(db is kept for kept in ABANDONED):
            ABANDONED.append(db)
        if _keeper is None:
            _keeper = threading.Thread(target=_hold, args=(ABANDONED,), daemon=True,
                                       name="symopt-abandoned-stores")
            _keeper.start()


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

    def __init__(self, db: sqlite3.Connection, path: str, file: str | None = None):
        self._db, self.path = db, path
        file = path if file is None else file
        self._shm = None if file in ("", ":memory:") else file + "-shm"
        self._shm_writable: bool | None = None  # learned once the file exists
        self._abandoned = False

    def _check_shm(self) -> None:
        """A `StoreWriteError` instead of SQLite's SIGBUS (see the module docstring)."""
        if self._shm is None:
            return
        writable = os.access(self._shm, os.W_OK)
        if self._shm_writable is None:
            if writable or os.path.exists(self._shm):
                self._shm_writable = writable  # read-only from the start: SQLite copes
            return
        if self._shm_writable and not writable and os.path.exists(self._shm):
            self._abandon()
            raise StoreWriteError(
                f"{self.path}: cannot write the store: {self._shm} is no longer writable "
                f"(made read-only or immutable while the store was open); everything "
                f"stored before is kept (make the run directory writable, then resume)")

    def _abandon(self) -> None:
        if not self._abandoned:
            self._abandoned = True
            abandon(self._db)

    def _call(self, method: str, *args: Any) -> Any:
        self._check_shm()
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
        if not self._abandoned:
            self._db.close()

    def __enter__(self) -> GuardedConnection:
        self._check_shm()
        self._db.__enter__()
        return self

    def __exit__(self, *exc: Any) -> bool:
        try:
            return bool(self._db.__exit__(*exc))
        except sqlite3.Error as err:
            raise translate(err, self.path) from None


def guard(db: sqlite3.Connection, path: Any, file: Any = None) -> GuardedConnection:
    """`db` with its errors turned into user errors naming `path` (the database `file`,
    if `path` is a label for it)."""
    return GuardedConnection(db, str(path), None if file is None else str(file))
