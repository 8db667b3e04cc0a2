"""Program analysis: dataflow graph, canonical hash, fingerprint, simplifier (dead code lives
in `symopt.lang.dead_code`, re-exported here).

>>> from symopt import programs
>>> from symopt.lang import parse
>>> raw = parse('''
... def train(w, g, m, lr):
...     k = 1.0 - 0.1
...     c = interp(g, m, k)
...     unused = exp(m)
...     c2 = c * c
...     u = c / sqrt(c2)
...     wd = w * 0.05
...     wd = wd * 2.0
...     update = u + wd
...     s = lr * 0.01
...     update = update * (s * 10.0)
...     m = interp(g, m, 0.99)
...     return update, m
... ''')
>>> lion = programs.load("lion")
>>> simple = simplify(raw)
>>> fingerprint(simple) == fingerprint(lion), canonical_hash(simple) == canonical_hash(lion)
(True, True)
"""

from symopt.analysis.fingerprinting import fingerprint
from symopt.analysis.graph import dataflow_graph
from symopt.analysis.hashing import canonical_hash
from symopt.analysis.pretty import to_nested_text
from symopt.analysis.simplifier import SimplifyError, simplification_summary, simplify
from symopt.lang.dead_code import (
    live_mask,
    memory_line,
    prune_slots,
    redundant_fraction,
    remove_dead,
    state_values,
)

__all__ = [
    "SimplifyError", "canonical_hash", "dataflow_graph", "fingerprint", "live_mask",
    "memory_line", "prune_slots", "redundant_fraction", "remove_dead", "simplify",
    "state_values", "simplification_summary", "to_nested_text",
]
