"""PNG figures of reports (matplotlib, Agg backend), each with its data as a CSV beside it.

`figure(path, columns, draw)` writes `path` (a PNG) and `path.with_suffix(".csv")`
holding exactly the columns the figure was drawn from, so a reader (or a test) can
check or re-plot every figure without the code that made it.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "line.png"
>>> figure(p, {"x": [1, 2], "y": [3.0, 4.0]}, lambda ax, d: ax.plot(d["x"], d["y"])).name
'line.png'
>>> p.with_suffix(".csv").read_text().splitlines()
['x,y', '1,3.0', '2,4.0']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from symopt.search.storage.store import write_atomic

Columns = Mapping[str, Sequence[Any]]


def figure(path: str | Path, columns: Columns, draw: Callable[[Any, Columns], Any],
           size: tuple[float, float] = (7.0, 4.2)) -> Path:
    """Draw `draw(ax, columns)` into the PNG `path`; write the columns as CSV beside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path.with_suffix(".csv"), columns_csv(columns))
    fig, ax = plt.subplots(figsize=size, dpi=100)
    try:
        draw(ax, columns)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        tmp = path.with_name(f".{path.name}.tmp.png")
        fig.savefig(tmp)
        tmp.replace(path)
    finally:
        plt.close(fig)
    return path


def columns_csv(columns: Columns) -> str:
    """CSV text of equal-length (or padded) columns; inf/nan written as `inf`/`nan`."""
    import pandas as pd

    n = max((len(v) for v in columns.values()), default=0)
    frame = pd.DataFrame({k: [_cell(x) for x in v] + [""] * (n - len(v))
                          for k, v in columns.items()})
    return frame.to_csv(index=False, lineterminator="\n")


def _cell(x: Any) -> Any:
    if isinstance(x, float):
        return repr(x) if math.isfinite(x) else ("nan" if math.isnan(x) else "inf")
    return x


def finite(values: Sequence[float]) -> list[float]:
    """`values` with inf replaced by nan (matplotlib leaves a gap)."""
    return [v if math.isfinite(v) else math.nan for v in values]


def log_scale_if_wide(ax, values: Sequence[float]) -> None:
    """Use a log y-axis when every finite value is positive and they span > 10x."""
    vals = [v for v in values if math.isfinite(v)]
    if vals and min(vals) > 0 and max(vals) / min(vals) > 10:
        ax.set_yscale("log")
