"""Preparing a candidate: from a program to the record the search stores or trains.

The first steps of a child's life (docs/architecture.md): drop dead code → canonical
hash → (on a miss) fingerprint → cache lookup. A hit takes the cached fitness and status
(`cache_hit`); no fingerprint is computed while a program with the same hash is training
(its twin's result will do), nor when `[cache] fingerprint` is off. `run_search`
(`symopt.search.evolution.loop`) stores a hit at once and trains a miss.

>>> from symopt import programs
>>> from symopt.search.storage.cache import EquivalenceCache
>>> cache = EquivalenceCache(":memory:", namespace="quadratic")
>>> prepare = Preparer(cache, fingerprint_fn=None, is_training=lambda key: False)
>>> rec = prepare(programs.load("sgd"), gen_index=0, operator="seed", description="sgd")
>>> rec.cache_hit, rec.live_statements
(False, 1)
>>> cache.put(rec.hash, None, 0.5, "ok")
>>> again = prepare(programs.load("sgd"), gen_index=1, operator="seed", description="sgd")
>>> again.cache_hit, again.fitness
(True, 0.5)
"""

from __future__ import annotations

import time
from collections.abc import Callable

from symopt.analysis import canonical_hash
from symopt.lang import Program, redundant_fraction, remove_dead, to_text
from symopt.search.storage.cache import EquivalenceCache
from symopt.search.storage.schema import CandidateRecord


class Preparer:
    """Makes a `CandidateRecord` of a program, looked up in the cache (module docstring).

    `fingerprint_fn` is None when programs are matched by hash only; `is_training(hash)`
    says whether a program with that hash is training now.
    """

    def __init__(self, cache: EquivalenceCache, fingerprint_fn: Callable[[Program], str] | None,
                 is_training: Callable[[str], bool]):
        self.cache = cache
        self.fingerprint_fn = fingerprint_fn
        self.is_training = is_training

    def __call__(self, program: Program, *, gen_index: int, operator: str, description: str,
                 parent_id: int | None = None, tries: int = 0,
                 start: float | None = None) -> CandidateRecord:
        """Dead code → canonical hash → (on a miss) fingerprint → cache lookup."""
        start = time.perf_counter() if start is None else start
        live = remove_dead(program)
        rec = CandidateRecord(
            program_text=to_text(program, header=False), gen_index=gen_index,
            parent_id=parent_id, operator=operator, description=description, tries=tries,
            hash=(key := canonical_hash(live)), statements=len(program.body),
            live_statements=len(live.body), redundant_fraction=redundant_fraction(program))
        hit = self.cache.get("hash", rec.hash)
        if (hit is None and self.fingerprint_fn is not None
                and not self.is_training(key)):
            rec.fingerprint = self._fingerprint(live)
            hit = self.cache.get("fingerprint", rec.fingerprint)
        if hit is not None:
            rec.fitness, rec.status, rec.cache_hit = hit.fitness, hit.status, True
        rec.prepare_seconds = time.perf_counter() - start
        return rec

    def _fingerprint(self, live: Program) -> str | None:
        assert self.fingerprint_fn is not None
        try:
            return self.fingerprint_fn(live)
        except Exception:  # noqa: BLE001 - no fingerprint only means no algebraic match
            return None
