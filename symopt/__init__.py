"""symopt: discover optimization algorithms by evolving small symbolic programs.

>>> import symopt
>>> from symopt import programs
>>> p = programs.load("lion")
>>> p.n_state, len(p.constants())
(1, 4)
>>> symopt.fingerprint(symopt.simplify(p)) == symopt.fingerprint(p)
True
>>> tx = symopt.to_optax(p, learning_rate=3e-4)   # an optax.GradientTransformation
>>> "def lion(learning_rate" in symopt.export_optax(p, name="lion")
True

Searching lives in `symopt.search` (`run_search`), proxy tasks in `symopt.tasks`
(`evaluate`, `get_task`); the `symopt` command covers both.
"""

from symopt import programs
from symopt.analysis import canonical_hash, fingerprint, simplify
from symopt.compile import export_optax, to_optax
from symopt.errors import ProgramError, SymoptError, UserError
from symopt.lang import Program, Stmt, check, is_valid, parse, parse_file, to_text

__version__ = "0.1.0"

__all__ = [
    "Program", "ProgramError", "Stmt", "SymoptError", "UserError", "canonical_hash", "check",
    "export_optax", "fingerprint", "is_valid", "parse", "parse_file", "programs", "simplify",
    "to_optax", "to_text",
]
