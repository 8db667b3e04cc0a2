"""One owner per run directory: `run_lock(run_dir)`, an OS-level lock on `RUN_DIR/run.lock`.

Every verb that *writes* a run directory (`search`, `search --resume`, `funnel`,
`report` when it writes, `tune`) holds this lock for as long as it writes; read-only
verbs never take it. The lock is `fcntl.flock` on an open file: the kernel releases it
when the owner exits in any way (SIGKILL included), so there is never a stale lock to
clean up, and the file itself is never deleted. The owner writes its PID and command
line into the file, so a second process is refused (`RunLockedError`, a `UserError`:
exit 2) with a message naming the holder.

Within one process the lock is re-entrant (a search that writes a report holds it once).

>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> with run_lock(d, command="symopt search --out run"):
...     holder(d)["command"]
'symopt search --out run'
>>> holder(d) is None  # released
True
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from symopt.errors import UserError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no lock (documented in the README)
    fcntl = None  # type: ignore[assignment]  # None stands for "no locking here"

LOCK_NAME = "run.lock"

_HELD: dict[str, list] = {}  # real path of the lock file -> [fd, depth]
_GUARD = threading.Lock()


class RunLockedError(UserError):
    """The run directory is owned by another live process (see `run_lock`)."""


def _command() -> str:
    argv = list(sys.argv)
    if argv and Path(argv[0]).name in ("__main__.py", "symopt"):
        argv[0] = "symopt"
    text = " ".join(argv) or "python"
    return text[:500]


@contextlib.contextmanager
def run_lock(run_dir: str | os.PathLike, command: str | None = None) -> Iterator[Path]:
    """Hold the run directory `run_dir` (created if missing) for the `with` block.

    Raises `RunLockedError` at once (never waits) if another process holds it; the
    message names that process's PID and command. Yields the lock file's path.
    """
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"{run_dir}: cannot create the run directory: "
                        f"{err.strerror or err}") from None
    path = run_dir / LOCK_NAME
    key = os.path.realpath(path)
    with _GUARD:
        if key in _HELD:
            _HELD[key][1] += 1
            held_here = True
        else:
            held_here = False
    if held_here:
        try:
            yield path
        finally:
            _release(key)
        return
    fd = _acquire(path, command or _command())
    with _GUARD:
        _HELD[key] = [fd, 1]
    try:
        yield path
    finally:
        _release(key)


def _acquire(path: Path, command: str) -> int:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as err:
        raise UserError(f"{path}: cannot open the run's lock file: {err.strerror or err}") from None
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunLockedError(_busy_message(path)) from None
        except OSError as err:  # e.g. a file system without locks
            os.close(fd)
            raise UserError(f"{path}: cannot lock the run directory: "
                            f"{err.strerror or err}") from None
    info = (f"pid={os.getpid()}\ncommand={command.replace(chr(10), ' ')}\n"
            f"since={time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n")
    os.ftruncate(fd, 0)
    os.pwrite(fd, info.encode("utf-8", "replace"), 0)
    return fd


def _release(key: str) -> None:
    with _GUARD:
        entry = _HELD[key]
        entry[1] -= 1
        if entry[1]:
            return
        del _HELD[key]
    os.close(entry[0])  # closing the last descriptor releases the flock


def _read_info(path: Path) -> dict[str, str]:
    try:
        with open(path, "rb") as f:
            text = f.read(4096).decode("utf-8", "replace")
    except OSError:
        return {}
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def _busy_message(path: Path) -> str:
    info = _read_info(path)
    who = f"PID {info['pid']}" if info.get("pid") else "a process whose PID is not recorded yet"
    what = f" ({info['command']}" + (f", since {info['since']}" if info.get("since") else "") + ")"
    return (f"{path.parent}: the run is in use by another symopt process, {who}"
            f"{what if info.get('command') else ''}; wait for it to end (or stop it), "
            f"then retry")


def holder(run_dir: str | os.PathLike) -> dict[str, str] | None:
    """`{"pid", "command", "since"}` of the process holding `run_dir`, or None if free.

    Takes and drops the lock to find out, so it is exact, not a guess from the file.
    """
    path = Path(run_dir) / LOCK_NAME
    if not path.exists() or fcntl is None:
        return None
    key = os.path.realpath(path)
    with _GUARD:
        if key in _HELD:
            return _read_info(path)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_info(path)
    finally:
        os.close(fd)
    return None


def ensure_free(run_dir: str | os.PathLike) -> None:
    """Refuse at once (`RunLockedError` naming the holder) if another process owns
    `run_dir`; writes nothing, so a verb can check before it writes anything.

    >>> import tempfile
    >>> ensure_free(tempfile.mkdtemp())  # no lock file: free
    """
    path = Path(run_dir) / LOCK_NAME
    if fcntl is None or not os.path.isfile(path):
        return
    with _GUARD:
        if os.path.realpath(path) in _HELD:
            return
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise RunLockedError(_busy_message(path)) from None
    finally:
        os.close(fd)
