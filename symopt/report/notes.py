"""Hand-written notes that survive regeneration, and small Markdown helpers.

A generated file holds one notes block between `<!-- notes -->` and `<!-- /notes -->`;
`keep_notes(old, new)` carries whatever a person wrote there into the regenerated text.

>>> new = f"# Report\\n{NOTES_OPEN}\\n{NOTES_CLOSE}\\nnumbers"
>>> old = f"# Report\\n{NOTES_OPEN}\\nlr looks too high\\n{NOTES_CLOSE}\\nold numbers"
>>> print(keep_notes(old, new))
# Report
<!-- notes -->
lr looks too high
<!-- /notes -->
numbers
>>> print(md_table(["a", "b"], [[1, 2.5]]))
| a | b |
|---|---|
| 1 | 2.5 |
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from symopt.search.storage.store import write_atomic

NOTES_OPEN, NOTES_CLOSE = "<!-- notes -->", "<!-- /notes -->"
_BLOCK = re.compile(re.escape(NOTES_OPEN) + r"\n?(.*?)" + re.escape(NOTES_CLOSE), re.S)


def notes_block(placeholder: str = "") -> str:
    """An empty notes block (with an optional placeholder line inside)."""
    inner = f"{placeholder}\n" if placeholder else ""
    return f"{NOTES_OPEN}\n{inner}{NOTES_CLOSE}"


def keep_notes(old: str | None, new: str) -> str:
    """`new` with its first notes block holding the notes of `old` (all of its blocks)."""
    if not old:
        return new
    kept = [m.group(1).strip("\n") for m in _BLOCK.finditer(old)]
    kept = [k for k in kept if k.strip()]
    if not kept:
        return new
    inner = "\n\n".join(kept)
    return _BLOCK.sub(lambda m: f"{NOTES_OPEN}\n{inner}\n{NOTES_CLOSE}", new, count=1)


def write_keeping_notes(path: str | Path, text: str) -> Path:
    """Write `text` to `path` atomically, keeping the notes of the file it replaces."""
    path = Path(path)
    old = path.read_text(encoding="utf-8") if path.is_file() else None
    write_atomic(path, keep_notes(old, text))
    return path


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (cells converted with `str`; `|` escaped)."""
    cell = lambda x: str(x).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(cell(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt(x: float | None, spec: str = ".6g") -> str:
    """A number for a report: `inf`/`-` for infinite or missing values."""
    if x is None:
        return "-"
    if isinstance(x, float) and not math.isfinite(x):
        return "inf" if x > 0 else ("-inf" if x < 0 else "nan")
    return format(x, spec)
