"""The run store's schema: an older store gets the newer columns, its rows kept."""

import sqlite3

from symopt.search.storage.schema import CandidateRecord
from symopt.search.storage.store import RunStore


def test_a_store_from_before_node_id_is_read_and_extended(tmp_path):
    store = RunStore.create(tmp_path, {"search": {}}, [("s.prog", "def train(w, g, lr): ...")])
    store.add(CandidateRecord(program_text="p", fitness=1.0, hash="h1"))
    store.close()
    db = sqlite3.connect(tmp_path / "run.sqlite")
    db.execute("ALTER TABLE candidates DROP COLUMN node_id")  # the version 1 schema
    db.commit()
    db.close()
    store = RunStore.open(tmp_path)
    store.add(CandidateRecord(program_text="q", fitness=0.5, hash="h2", node_id="ab12"))
    assert [(r.program_text, r.node_id) for r in store.candidates()] == [("p", ""), ("q", "ab12")]
    store.close()


def test_a_store_from_before_compute_budgets_gets_steps_and_operators(tmp_path):
    store = RunStore.create(tmp_path, {"search": {}}, [("s.prog", "def train(w, g, lr): ...")])
    store.add(CandidateRecord(program_text="p", fitness=1.0, hash="h1"))
    store.close()
    db = sqlite3.connect(tmp_path / "run.sqlite")
    for column in ("steps", "probe_steps"):
        db.execute(f"ALTER TABLE candidates DROP COLUMN {column}")
    db.execute("DROP TABLE operators")
    db.commit()
    db.close()
    store = RunStore.open(tmp_path)
    store.add(CandidateRecord(program_text="q", fitness=0.5, hash="h2", steps=30, probe_steps=10))
    assert [(r.steps, r.probe_steps) for r in store.candidates()] == [(0, 0), (30, 10)]
    store.set_operator_stats(2, {"insert": (1, 0, 0.4)})
    assert store.operator_stats() == [(2, "insert", 1, 0, 0.4)]
    store.close()
