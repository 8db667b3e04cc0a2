"""Program analysis: dataflow graph, canonical hash, fingerprint, simplifier (dead code lives
in `symopt.lang.dead_code`, re-exported here).

>>> from symopt.lang import parse_file
>>> raw, lion = parse_file("tests/programs/lion_raw.prog"), parse_file("programs/lion.prog")
>>> simple = simplify(raw)
>>> fingerprint(simple) == fingerprint(lion), canonical_hash(simple) == canonical_hash(lion)
(True, True)
"""

from symopt.analysis.fingerprinting import fingerprint
from symopt.analysis.graph import dataflow_graph
from symopt.analysis.hashing import canonical_hash
from symopt.analysis.pretty import to_nested_text
from symopt.analysis.simplifier import SimplifyError, simplify, summarize
from symopt.lang.dead_code import live_mask, redundant_fraction, remove_dead

__all__ = [
    "SimplifyError", "canonical_hash", "dataflow_graph", "fingerprint", "live_mask",
    "redundant_fraction", "remove_dead", "simplify", "summarize", "to_nested_text",
]
