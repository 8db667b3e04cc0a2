"""PBT's own files, read back through `symopt.files` (the one reader): a checkpoint's
``meta.json`` and ``state.npz`` (in a member) and the records file ``pbt_results.jsonl``
(in the driver). A damaged or hostile file is a `FileError` naming it (exit 2), never a
traceback; a member's `FileError` is re-raised in the driver by `raise_member_errors`.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "meta.json").write_text('{"trial_id": "a", "val_loss": 1.5, "val0": 2, "step": 3}')
>>> read_meta(d / "meta.json")["val_loss"]
1.5
>>> _ = (d / "meta.json").write_text('[1, 2]')
>>> read_meta(d / "meta.json")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
symopt.files.FileError: .../meta.json: not the meta.json of a symopt PBT checkpoint (...)
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from symopt import files
from symopt.checks import MAX_FILE_BYTES
from symopt.errors import SymoptError, UserError
from symopt.files import FileError

# the fields of a checkpoint's meta.json and their types (float: any JSON number)
_META = {"trial_id": str, "val_loss": float, "val0": float, "step": int}


def _of_type(value: Any, kind: type) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, (int, float) if kind is float else kind)


def _json(text: str, where: str, what: str = "") -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise FileError(where, f"{what}not JSON ({err.msg} at column {err.colno})") from None
    except RecursionError:
        raise FileError(where, f"{what}not JSON (nested too deeply)") from None


def read_meta(path: Path) -> dict[str, Any]:
    """A checkpoint's meta.json, read by `symopt.files`; a damaged one is a `FileError`
    naming it (in the member, and from `run_pbt` in the driver)."""
    meta = _json(files.read_text(path), str(path))
    if not isinstance(meta, dict) or not all(_of_type(meta.get(k), t) for k, t in _META.items()):
        raise FileError(str(path), "not the meta.json of a symopt PBT checkpoint (expected "
                                   + ", ".join(f"{k}: {t.__name__}" for k, t in _META.items())
                                   + ")")
    return meta


def read_state(trainer, path: Path, from_arrays):
    try:
        with np.load(path, allow_pickle=False) as z:
            return from_arrays(trainer, dict(z))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise FileError(str(path), f"damaged checkpoint state ({type(err).__name__}: "
                                   f"{str(err)[:200]})") from None


def raise_member_errors(errors: list[BaseException]) -> None:
    """Re-raise in the driver a symopt error that stopped a member (a damaged checkpoint
    file, say): Ray Tune keeps a member's exception in its result instead of raising it."""
    for err in errors:
        for _ in range(16):  # a chain of causes; Ray's RayTaskError keeps it in `cause`
            inner = getattr(err, "cause", None)
            if isinstance(inner, BaseException) and inner is not err:
                err = inner
                continue
            if isinstance(err, FileError):
                raise FileError(err.path, err.reason) from None
            if isinstance(err, SymoptError):
                raise UserError(f"a PBT member stopped: {err}") from None
            if err is None or err.__cause__ is None:
                break
            err = err.__cause__


def records_limit(members: int, iterations: int) -> int:
    """The size bound of the records file: 4 KB per report (a report is well under 1 KB),
    twice over for the iterations a resume re-runs; at least `MAX_FILE_BYTES`."""
    return max(MAX_FILE_BYTES, 4096 * members * (iterations + 1) * 2)


# the fields of a record (a report of one member) and their types
_ROW = {"trial_id": str, "training_iteration": int, "step": int, "val_loss": float,
        "status": str, "values": str}
_OPTIONAL = ("restored_val", "source_val", "timestamp")  # numbers or null


def read_records(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """Every report of every member, in order, from the callback's JSON-lines file.

    The file is read by `symopt.files` (a regular file, UTF-8, at most `limit` bytes); a
    line cut by a kill is skipped, any other damage is a `FileError` naming the file and
    line.
    """
    records: list[dict[str, Any]] = []
    members: dict[str, int] = {}
    if not os.path.lexists(path):
        return []
    where = os.fspath(path)
    lines = files.read_text(path, limit or MAX_FILE_BYTES).splitlines()
    for n, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, RecursionError):  # a line cut by a kill
            continue
        if isinstance(row, dict) and not row.get("values"):
            continue
        if not isinstance(row, dict) or not all(_of_type(row.get(k), t) for k, t in _ROW.items()):
            raise FileError(where, f"line {n}: not a PBT report (expected "
                                   + ", ".join(f"{k}: {t.__name__}" for k, t in _ROW.items())
                                   + ")")
        values = _json(row["values"], where, f"line {n}: values: ")
        if not isinstance(values, dict) or not all(
                _of_type(v, float) for v in values.values()):
            raise FileError(where, f"line {n}: values: expected a table of numbers")
        if not all(row.get(k) is None or _of_type(row[k], float) for k in _OPTIONAL) or not (
                row.get("timestamp") is None or 0 <= row["timestamp"] < 1e11):
            raise FileError(where, f"line {n}: {', '.join(_OPTIONAL)}: expected numbers "
                                   "(a timestamp in seconds since 1970)")
        trial = row["trial_id"]
        records.append({
            "method": "pbt", "trial": trial, "member": members.setdefault(trial, len(members)),
            "generation": row["training_iteration"], "step": row["step"],
            "values": values,
            "fitness": math.inf if row["status"] != "ok" else row["val_loss"],
            "status": row["status"], "message": str(row.get("message") or ""),
            "origin": str(row.get("origin") or ""), "restored_val": row.get("restored_val"),
            "source_val": row.get("source_val"), "time": row.get("timestamp"),
        })
    # after a resume, Ray re-runs iterations from the last checkpoint: the re-run counts
    last = {(r["trial"], r["generation"]): i for i, r in enumerate(records)}
    return [r for i, r in enumerate(records) if last[r["trial"], r["generation"]] == i]
