"""best.prog and hall_of_fame.csv (`symopt.search.storage.outputs`) from a real store."""

from __future__ import annotations

import csv
import math

from symopt.lang import parse_file
from symopt.search.storage.outputs import write_outputs
from symopt.search.storage.schema import CandidateRecord
from symopt.search.storage.store import RunStore

DEAD = "def train(w, g, lr):\n    x = sign(g)\n    update = g * lr\n    return update\n"
SIGN = "def train(w, g, lr):\n    s = sign(g)\n    update = s * lr\n    return update\n"


def test_the_hall_of_fame_ranks_distinct_programs_and_best_prog_drops_dead_code(tmp_path):
    store = RunStore.create(tmp_path, {}, [("sgd", DEAD)])
    try:
        ids = [store.add(CandidateRecord(program_text=t, fitness=f, hash=h, operator=op))
               for t, f, h, op in [(DEAD, 2.0, "a", "seed"), (SIGN, 0.5, "b", "insert"),
                                   (SIGN, 0.5, "b", "modify"), (DEAD, math.inf, "c", "delete")]]
        best = store.get(ids[1])
        threshold = write_outputs(tmp_path, store, best, hall_of_fame=2, task_name="quadratic",
                                  seed_fitness=2.0)
    finally:
        store.close()
    with open(tmp_path / "hall_of_fame.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    # the twin of candidate 2 (same hash) appears once; the hall of fame is full, so its
    # worst fitness is the bar to enter it
    assert [(r["rank"], r["id"], r["fitness"]) for r in rows] == [("1", str(ids[1]), "0.5"),
                                                                   ("2", str(ids[0]), "2.0")]
    assert rows[0]["program"] == "s = sign(g); update = s * lr; return update"
    assert rows[1]["program"] == "update = g * lr; return update"  # dead `x` left out
    assert threshold == 2.0
    text = (tmp_path / "best.prog").read_text()
    assert text.startswith(f"# symopt search {tmp_path}: fitness 0.5 (ok) on task quadratic, "
                           f"candidate {ids[1]} (insert); seed fitness 2")
    assert len(parse_file(str(tmp_path / "best.prog")).body) == 2


def test_a_hall_of_fame_not_yet_full_lets_anything_finite_in(tmp_path):
    store = RunStore.create(tmp_path, {}, [("sgd", DEAD)])
    try:
        rec = store.get(store.add(CandidateRecord(program_text=DEAD, fitness=1.0, hash="a")))
        assert write_outputs(tmp_path, store, rec, hall_of_fame=5, task_name="t",
                             seed_fitness=1.0) == math.inf
    finally:
        store.close()
