"""Evaluations in a killable worker process: a deadline that covers compilation, and a
crash that costs one evaluation, never the caller.

JAX checks a time limit only between training chunks; XLA compilation cannot be
interrupted, and a program whose compilation exhausts memory aborts the whole process
(`std::bad_alloc`). `IsolatedWorker.call(fn, args, limit_s=...)` therefore runs
`fn(*args)` in a persistent spawned process (what it keeps between calls, such as loaded
tasks and compiled runners or interpreters, survives, so a compile-once engine stays
compiled) and waits at most `limit_s` seconds, plus `SLACK_S`, from the moment `fn`
starts; what `fn` does inside `with untimed():` (e.g. building a task and loading its
data) counts against a generous `startup_s` instead. At the deadline the process is
killed and replaced on the next call; if it dies (out of memory, `abort()`, SIGKILL),
the call's outcome says so. Either way the caller gets an `Outcome`, never an exception.

This module imports nothing from symopt, so a worker starts without JAX until `fn`
needs it. A worker re-imports the caller's main module only where that is safe: a
script with an ``if __name__ == "__main__":`` guard (so what it defines, such as a task it
registers, is known in workers too). A script without the guard, ``python -`` (standard
input), ``python -c`` and a notebook start workers that never run the caller's code
(`_spawning`); there `fn` and what it is given must come from importable modules.

>>> import time
>>> w = IsolatedWorker()
>>> w.call(pow, (2, 10)).value
1024
>>> w.call(time.sleep, (30,), limit_s=0.2).kind  # killed at the deadline, not in 30 s
'timeout'
>>> w.call(pow, (3, 2)).value  # a fresh process took over
9
>>> w.close()
"""

from __future__ import annotations

import ast
import contextlib
import functools
import multiprocessing
import os
import signal
import sys
import threading
import time
import types
from dataclasses import dataclass
from typing import Any

#: Seconds the kill waits beyond `limit_s`, so an evaluation's own (graceful) time limit,
#: checked between training chunks, normally acts first.
SLACK_S = 2.0

_CONN = None  # inside a worker: the connection to the parent (for `untimed`)
_SPAWN_LOCK = threading.Lock()


@dataclass(frozen=True)
class Outcome:
    """How a call went: `kind` is "ok" (`value` holds the result), "raised" (`message`
    names the exception), "timeout" (killed at the deadline) or "died" (the process
    ended: `message` says how); `seconds` is the call's wall time since `fn` started."""

    kind: str
    value: Any = None
    message: str = ""
    seconds: float = 0.0


@contextlib.contextmanager
def untimed():
    """Inside a worker, the block does not count against the call's time limit (only
    against `startup_s`): for preparation that is not the evaluated program's doing.
    Outside a worker, a plain block.

    >>> with untimed():
    ...     pass
    """
    if _CONN is None:
        yield
        return
    _CONN.send(("untimed", None))
    try:
        yield
    finally:
        _CONN.send(("started", None))


def _watch_parent(parent: int) -> None:
    while True:  # an orphan (its search was SIGKILLed) exits instead of training on
        if os.getppid() != parent:
            os._exit(0)
        time.sleep(1.0)


def _worker_main(conn, parent: int) -> None:
    global _CONN
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent to handle
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    _CONN = conn
    while True:
        try:
            fn, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            conn.send(("started", None))
            result = ("done", fn(*args))
        except OSError as err:  # a send in `untimed` too: the parent may be gone
            if _parent_gone(err):
                return
            result = ("raised", f"{type(err).__name__}: {err}")
        except BaseException as err:  # noqa: BLE001 - reported to the parent, which decides
            result = ("raised", f"{type(err).__name__}: {err}")
        if not _send(conn, result):
            return


def _parent_gone(err: BaseException) -> bool:
    return isinstance(err, BrokenPipeError | ConnectionResetError | EOFError)


def _send(conn, result) -> bool:
    """Send `result` to the parent; False, silently, if the parent is gone (Ctrl-C twice,
    killed, a broken pipe): a worker prints no chained tracebacks on its way out."""
    try:
        conn.send(result)
        return True
    except OSError:
        return False
    except Exception as err:  # noqa: BLE001 - e.g. an unpicklable result
        try:
            conn.send(("raised", f"cannot send the result back: {type(err).__name__}: {err}"))
            return True
        except OSError:
            return False


def _death(exitcode: int | None) -> str:
    if exitcode is None:
        return "the worker process stopped answering"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = {"SIGABRT": " (an abort, e.g. std::bad_alloc: out of memory)",
                "SIGKILL": " (killed, e.g. by the out-of-memory killer)",
                "SIGSEGV": " (a crash)"}.get(name, "")
        return f"the worker process died of {name}{hint}"
    return f"the worker process exited with code {exitcode}"


@functools.lru_cache(maxsize=8)
def _has_main_guard(path: str, mtime: float) -> bool:
    """Whether the script at `path` has a top-level ``if __name__ == "__main__":``
    (parsed, never run)."""
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read(), filename=path)
    except (OSError, SyntaxError, ValueError):
        return False
    for node in tree.body:
        test = node.test if isinstance(node, ast.If) else None
        if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(
                test.ops[0], ast.Eq):
            sides = {ast.dump(test.left), ast.dump(test.comparators[0])}
            if sides == {ast.dump(ast.Name("__name__", ast.Load())),
                         ast.dump(ast.Constant("__main__"))}:
                return True
    return False


def _main_is_safe_to_rerun() -> bool:
    """A worker may import the caller's main module: it is a file with a main guard."""
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    try:
        return path is not None and _has_main_guard(path, os.stat(path).st_mtime)
    except OSError:  # `<stdin>`, or the script is gone
        return False


@contextlib.contextmanager
def _spawning():
    """While a worker is spawned, `__main__` is a bare module, unless the main module is
    safe to run again (`_main_is_safe_to_rerun`).

    `multiprocessing`'s spawn makes the child import the parent's main module again
    (by path or by name): a script without a main guard would run its search in every
    worker (which meets the run lock and dies), and ``python -`` has no file to run
    (the worker dies on ``<stdin>``).
    """
    if _main_is_safe_to_rerun():
        yield
        return
    with _SPAWN_LOCK:
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            if main is None:
                del sys.modules["__main__"]
            else:
                sys.modules["__main__"] = main


class IsolatedWorker:
    """One persistent worker process (started on first use); see the module docstring."""

    def __init__(self, startup_s: float = 600.0):
        self.startup_s = startup_s
        self._proc: Any = None  # a multiprocessing Process, once started
        self._conn: Any = None  # its Connection
        self._lock = threading.Lock()

    def _start(self) -> None:
        ctx = multiprocessing.get_context("spawn")  # JAX is not fork-safe
        parent_conn, child_conn = ctx.Pipe()
        self._proc = ctx.Process(target=_worker_main, args=(child_conn, os.getpid()),
                                 daemon=True, name="symopt-eval")
        with _spawning():
            self._proc.start()
        child_conn.close()
        self._conn = parent_conn

    def call(self, fn, args: tuple = (), *, limit_s: float | None = None) -> Outcome:
        """`fn(*args)` in the worker; killed `limit_s + SLACK_S` s after it starts."""
        with self._lock:
            return self._call(fn, args, limit_s)

    def _call(self, fn, args, limit_s) -> Outcome:
        t0 = time.monotonic()
        if self._proc is None or not self._proc.is_alive():
            self._discard()
            self._start()
        proc, conn = self._proc, self._conn  # `close` may reset the attributes meanwhile
        try:
            conn.send((fn, args))
        except (OSError, EOFError, AttributeError) as err:
            self._discard(proc, kill=True)
            return Outcome("died", message=f"cannot reach the worker process: {err}")
        deadline = float("inf") if limit_s is None else t0 + self.startup_s + limit_s
        # (until the worker says "started": spawning it and unpickling the job are free)
        left: float | None = None
        t_fn: float | None = None  # when `fn` started
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._discard(proc, kill=True)
                return Outcome("timeout", message=f"stopped at the time limit of {limit_s:g}s "
                               f"(compilation included)", seconds=time.monotonic() - (t_fn or t0))
            try:
                message: tuple[str, Any] | None = (conn.recv() if conn.poll(min(remaining, 0.5))
                                                    else None)
            except (EOFError, OSError):
                message = ("died", None)
            if message is None:
                if proc.is_alive():
                    continue
                message = ("died", None)
            kind, value = message
            if kind == "started" and t_fn is None:
                t_fn = time.monotonic()
            if kind in ("started", "untimed") and limit_s is not None:
                now = time.monotonic()
                if kind == "untimed":  # the clock stops; what is left of the limit is kept
                    left, deadline = deadline - now, now + self.startup_s
                else:
                    deadline = now + (limit_s + SLACK_S if left is None else left)
                    left = None
                continue
            if kind in ("started", "untimed"):
                continue
            seconds = time.monotonic() - (t_fn or t0)
            if kind == "done":
                return Outcome("ok", value, seconds=seconds)
            if kind == "raised":
                return Outcome("raised", message=str(value), seconds=seconds)
            proc.join(timeout=5)
            text = _death(proc.exitcode)
            self._discard(proc, kill=True)
            return Outcome("died", message=text, seconds=seconds)

    def _discard(self, proc=None, kill: bool = False) -> None:
        """Forget the worker process (`proc`, if it is still the current one), killing it."""
        if proc is None:
            proc = self._proc
        if proc is self._proc and self._conn is not None:
            self._conn.close()
            self._proc = self._conn = None
        if proc is not None:
            if kill and proc.is_alive():
                proc.kill()
            proc.join(timeout=10)

    def close(self) -> None:
        """Stop the worker process (killed if it is busy)."""
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if conn is not None:
            conn.close()  # an idle worker sees EOF and exits
        if proc is not None:
            proc.join(timeout=2)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=10)
