"""What a search writes next to `run.sqlite`: `best.prog` and `hall_of_fame.csv`.

Both are rewritten atomically whenever a candidate enters the hall of fame, so a killed
search leaves them consistent with the store.

>>> text = "def train(w, g, lr):\\n    x = sign(g)\\n    update = g * lr\\n    return update"
>>> one_line(text)
'update = g * lr; return update'
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from symopt.lang import Program, parse, remove_dead, to_text
from symopt.lang.printer import one_line as comment_safe
from symopt.search.storage.schema import CandidateRecord
from symopt.search.storage.store import RunStore, write_atomic


def remove_dead_text(program: Program) -> str:
    """The canonical text of a program without its dead statements (what is trained)."""
    return to_text(remove_dead(program), header=False)


def one_line(program_text: str, source: str = "<string>") -> str:
    """A program's live statements on one line, `;`-separated (for the CSV); errors name
    `source`."""
    text = remove_dead_text(parse(program_text, source))
    body = [ln.strip() for ln in text.splitlines()[1:]]
    return "; ".join(body)


def hall_of_fame_csv(records: list[CandidateRecord], one_line) -> str:
    """CSV text of the hall of fame; `one_line(record)` renders a program on one line.

    >>> r = CandidateRecord(program_text="p", fitness=0.25, hash="abc", live_statements=2, id=7)
    >>> print(hall_of_fame_csv([r], lambda rec: "u = g * lr").strip())
    rank,fitness,status,statements,hash,id,program
    1,0.25,ok,2,abc,7,u = g * lr
    """
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["rank", "fitness", "status", "statements", "hash", "id", "program"])
    for rank, r in enumerate(records, 1):
        w.writerow([rank, repr(r.fitness) if math.isfinite(r.fitness) else "inf", r.status,
                    r.live_statements, r.hash or "", r.id, one_line(r)])
    return buf.getvalue()


def write_outputs(run_dir: Path, store: RunStore, best: CandidateRecord, *, hall_of_fame: int,
                  task_name: str, seed_fitness: float) -> float:
    """Write `hall_of_fame.csv` (the `hall_of_fame` best) and `best.prog` (`best`, live
    statements only, with a header saying where it comes from).

    Returns the fitness a candidate must reach to enter the hall of fame (inf while it
    is not full).
    """
    top = store.best(hall_of_fame)
    threshold = top[-1].fitness if len(top) == hall_of_fame else math.inf
    write_atomic(run_dir / "hall_of_fame.csv",
                 hall_of_fame_csv(top, lambda r: one_line(r.program_text, store.source(r))))
    live = remove_dead(parse(best.program_text, store.source(best)))
    header = (f"# symopt search {comment_safe(str(run_dir))}: fitness {best.fitness:.6g} "
              f"({best.status}) on task {task_name}, candidate {best.id}"
              f" ({best.operator}); seed fitness {seed_fitness:.6g}")
    write_atomic(run_dir / "best.prog", to_text(live.replace(header=header)))
    return threshold
