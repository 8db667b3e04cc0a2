"""One reader for every file a user names, and one check for every path symopt writes to.

Programs, configs (search, tune, sweep) and the text of stores are read by `read_text`
with the rules program files always had: a regular file (a directory, a FIFO, a device
such as `/dev/zero`, also behind a symbolic link, is refused before reading, and opening
never blocks), at most a size bound (`symopt.checks.MAX_FILE_BYTES`), UTF-8 text with an
optional byte-order mark. TOML goes through `parse_toml`, which also bounds nesting depth
and integer size. Every problem is a `FileError` (a `UserError`) naming the path.

Output paths are checked by `output_dir` and `output_file` before any work starts and
before anything is written: a writable directory (or one that can be created under a
writable one), never a device, never under `/proc`, `/sys` or `/dev`.

>>> read_text("/dev/zero")
Traceback (most recent call last):
...
symopt.files.FileError: /dev/zero: not a regular file (a character device)
>>> parse_toml("a = [[[1]]]", "x.toml")
{'a': [[[1]]]}
>>> parse_toml("a = " + "9" * 30, "x.toml")
Traceback (most recent call last):
...
symopt.files.FileError: x.toml: integer too large (at most 19 digits; TOML integers are 64-bit)
"""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from symopt.checks import MAX_FILE_BYTES, MAX_TOML_DEPTH, MAX_TOML_INT
from symopt.errors import UserError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: Writing is refused under these: they are not places for results.
_SYSTEM_DIRS = ("/proc", "/sys", "/dev")


class FileError(UserError):
    """A file that cannot be read or a path that cannot be written; `path` and `reason`
    are kept apart so that program errors can show them as `file:1:1: reason`."""

    def __init__(self, path: str, reason: str):
        self.path, self.reason = path, reason
        super().__init__(f"{path}: {reason}")


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "a special file"


def _os_reason(err: OSError) -> str:
    if err.errno == errno.ENAMETOOLONG:
        return "file name too long"
    return err.strerror or str(err)


def read_bytes(path: str | os.PathLike, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them (else `FileError`)."""
    path = os.fspath(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise FileError(path, f"cannot read file: {_os_reason(err)}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileError(path, f"not a regular file ({_kind(info.st_mode)})")
        if info.st_size > limit:
            raise FileError(path, f"file too large ({info.st_size} bytes; at most {limit})")
        chunks, size = [], 0
        while size <= limit:  # the file may grow after fstat: never read past the limit
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise FileError(path, f"file too large (more than {limit} bytes)")
        return b"".join(chunks)
    except OSError as err:
        raise FileError(path, f"cannot read file: {_os_reason(err)}") from None
    finally:
        os.close(fd)


def decode(data: bytes, path: str) -> str:
    """UTF-8 bytes -> text; a leading byte-order mark is dropped, as Python does.

    >>> decode(b"\\xef\\xbb\\xbfa = 1", "c.toml")
    'a = 1'
    >>> decode(b"a\\n\\xff", "c.toml")
    Traceback (most recent call last):
    ...
    symopt.files.FileError: c.toml: not UTF-8 text (byte 0xff at line 2, column 1)
    """
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as err:
        line, col = position(data, err.start)
        raise FileError(path, f"not UTF-8 text (byte 0x{data[err.start]:02x} at line {line}, "
                              f"column {col})") from None


def position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based (line, column) of byte `offset`."""
    before = data[:offset]
    return before.count(b"\n") + 1, offset - (before.rfind(b"\n") + 1) + 1


def read_text(path: str | os.PathLike, limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of the regular file `path` (see `read_bytes`, `decode`)."""
    return decode(read_bytes(path, limit), os.fspath(path))


def is_file(path: str | os.PathLike) -> bool:
    """`Path.is_file` that is False, not an error, for a name the system refuses
    (too long, a component that is a file...)."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def builtin_or_path(spec: str | os.PathLike, folder: Path, suffix: str,
                    checkout_dir: str = "") -> Path:
    """Where a file named on a command line lives: an existing file wins, then a built-in
    ``NAME`` or ``NAME{suffix}`` of `folder` (also written ``{checkout_dir}/NAME{suffix}``,
    as the docs do in a checkout); anything else is returned as given, so that reading it
    reports the missing file. The one rule of `symopt.programs.resolve` and
    `symopt.search.config.loading.resolve_config`.

    >>> from symopt import programs
    >>> folder = programs.path("sgd").parent
    >>> builtin_or_path("sgd", folder, ".prog") == folder / "sgd.prog"
    True
    >>> builtin_or_path("programs/sgd.prog", folder, ".prog", "programs").name
    'sgd.prog'
    >>> builtin_or_path("mine/sgd.prog", folder, ".prog")
    PosixPath('mine/sgd.prog')
    """
    given = Path(spec)
    if is_file(given):
        return given
    name = os.fspath(spec)
    if checkout_dir and given.parent == Path(checkout_dir) and given.suffix == suffix:
        name = given.name
    stem = name[: -len(suffix)] if name.endswith(suffix) else name
    builtin = folder / (stem + suffix)
    if stem and "/" not in stem and os.sep not in stem and is_file(builtin):
        return builtin
    return given


_INT_TOO_LARGE = re.compile(r"exceeds the limit .* digits", re.IGNORECASE)


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """TOML text -> data, with nesting at most `MAX_TOML_DEPTH` and integers within 64 bits.

    Raises `tomllib.TOMLDecodeError` for bad syntax (callers add their own context) and
    `FileError` naming `source` for the bounds.
    """
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise FileError(source, f"nested too deeply (at most {MAX_TOML_DEPTH} levels of "
                                f"arrays and tables)") from None
    except tomllib.TOMLDecodeError:
        raise
    except (ValueError, MemoryError) as err:
        if _INT_TOO_LARGE.search(str(err)):
            raise FileError(source, _int_message()) from None
        raise FileError(source, f"invalid TOML: {err}") from None
    check_value(data, source)
    return data


def _int_message() -> str:
    return f"integer too large (at most {len(str(MAX_TOML_INT))} digits; TOML integers are 64-bit)"


def check_value(value: Any, source: str, depth: int = 0) -> None:
    """Refuse data nested deeper than `MAX_TOML_DEPTH` or holding an integer outside 64 bits."""
    if depth > MAX_TOML_DEPTH:
        raise FileError(source, f"nested too deeply (at most {MAX_TOML_DEPTH} levels of arrays "
                                f"and tables)")
    if isinstance(value, dict):
        for v in value.values():
            check_value(v, source, depth + 1)
    elif isinstance(value, list):
        for v in value:
            check_value(v, source, depth + 1)
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_TOML_INT:
        raise FileError(source, _int_message())


def load_toml(path: str | os.PathLike) -> dict[str, Any]:
    """Read and parse a TOML file; every error (bad syntax included) names `path`."""
    name = os.fspath(path)
    try:
        return parse_toml(read_text(path), name)
    except tomllib.TOMLDecodeError as err:
        raise FileError(name, f"invalid TOML: {err}") from None


def toml_value(text: str, where: str) -> Any:
    """A value written as a TOML literal on the command line (`--set k=V`), or `None` when
    `text` is not one (the caller then takes it as a plain string); bounded like files.

    >>> toml_value("[1, 2]", "--set a.b"), toml_value("adam", "--set a.b")
    ([1, 2], None)
    >>> toml_value("[" * 5000, "--set a.b")
    Traceback (most recent call last):
    ...
    symopt.files.FileError: --set a.b: nested too deeply (at most 16 levels of arrays and tables)
    """
    if text.count("[") + text.count("{") > MAX_TOML_DEPTH * 64 or _depth(text) > MAX_TOML_DEPTH:
        raise FileError(where, f"nested too deeply (at most {MAX_TOML_DEPTH} levels of arrays "
                               f"and tables)")
    try:
        return parse_toml(f"v = {text}", where)["v"]
    except tomllib.TOMLDecodeError:
        return None


def _depth(text: str) -> int:
    """Bracket nesting of `text`, strings ignored only roughly (an upper bound is enough)."""
    depth = deepest = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth = max(depth - 1, 0)
    return deepest


def _refuse_system(path: Path, flag: str) -> None:
    resolved = os.path.realpath(path)
    for top in _SYSTEM_DIRS:
        if resolved == top or resolved.startswith(top + "/"):
            raise FileError(f"{flag} {path}", f"is under {top}, not a place for results")


def _nearest_existing(path: Path) -> Path:
    current = path.absolute()
    while not os.path.lexists(current) and current != current.parent:
        current = current.parent
    return current


def output_dir(path: str | os.PathLike, flag: str) -> Path:
    """Check, writing nothing, that `path` is or can become a writable directory.

    >>> output_dir("/proc/x", "--out")
    Traceback (most recent call last):
    ...
    symopt.files.FileError: --out /proc/x: is under /proc, not a place for results
    """
    return _output(path, flag, _existing_dir)


def output_file(path: str | os.PathLike, flag: str) -> Path:
    """Check, writing nothing, that a regular file can be written at `path`.

    >>> output_file("/dev/full", "--plot")
    Traceback (most recent call last):
    ...
    symopt.files.FileError: --plot /dev/full: is under /dev, not a place for results
    """
    return _output(path, flag, _existing_file)


def _output(path: str | os.PathLike, flag: str,
            existing: Callable[[Path, str], None]) -> Path:
    """`path` checked as an output: never under a system directory; if it exists, by
    `existing(target, where)` (which raises `FileError`); else it must be creatable."""
    target = Path(path)
    where = f"{flag} {path}"
    try:
        _refuse_system(target, flag)
        if os.path.lexists(target):
            existing(target, where)
        else:
            _creatable(target, where)
    except OSError as err:
        raise FileError(where, _os_reason(err)) from None
    return target


def _existing_dir(target: Path, where: str) -> None:
    info = os.stat(target)
    if not stat.S_ISDIR(info.st_mode):
        kind = "a file" if stat.S_ISREG(info.st_mode) else _kind(info.st_mode)
        raise FileError(where, f"is {kind}, not a directory")
    if not os.access(target, os.W_OK | os.X_OK):
        raise FileError(where, "directory not writable")


def _existing_file(target: Path, where: str) -> None:
    info = os.stat(target)
    if stat.S_ISDIR(info.st_mode):
        raise FileError(where, "is a directory; give a file name")
    if not stat.S_ISREG(info.st_mode):
        raise FileError(where, f"is {_kind(info.st_mode)}, not a regular file")
    if not os.access(target, os.W_OK):
        raise FileError(where, "file not writable")


def _creatable(target: Path, where: str) -> None:
    parent = _nearest_existing(target)
    if not parent.is_dir():
        raise FileError(where, f"cannot be created: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise FileError(where, f"cannot be created: {parent} is not writable")
    for part in target.absolute().parts:
        if len(part.encode()) > 255:
            raise FileError(where, "file name too long")
