"""symopt: discover optimization algorithms by evolving small symbolic programs.

>>> import symopt
>>> lion = symopt.programs.load("lion")           # the built-in programs ship with symopt
>>> lion.n_state, len(lion.constants())
(1, 4)
>>> symopt.fingerprint(symopt.simplify(lion)) == symopt.fingerprint(lion)
True
>>> tx = symopt.to_optax(lion, learning_rate=3e-4)  # an optax.GradientTransformation
>>> tx = symopt.optimizer("lion", 3e-4, b1=0.95)     # as optax.adamw(3e-4, b1=0.95)
>>> "def lion(learning_rate" in symopt.export_optax(lion, name="lion")
True

`symopt.search(seeds, task=..., budget=...)` runs a search and `symopt.load_run(run_dir)`
reopens one and `symopt.tune(program, task=...)` tunes a program's hyperparameters
(`symopt.api`); the proxy tasks are in `symopt.tasks` (`evaluate`,
`get_task`); the `symopt` command covers all of it. docs/architecture.md says where
everything lives.
"""

from importlib.metadata import PackageNotFoundError, version

from symopt import (
    programs,
    search,  # the package, callable: `symopt.search(seeds, ...)` (symopt.api)
    tune,  # the package, callable: `symopt.tune(program, ...)` (symopt.api)
)
from symopt.analysis import canonical_hash, fingerprint, simplify
from symopt.api import Candidate, SearchRun, load_run
from symopt.compile import export_optax, to_optax
from symopt.compile import make_optimizer as optimizer
from symopt.errors import ProgramError, SearchFailedError, SymoptError, UserError
from symopt.lang import Program, Stmt, check, is_valid, parse, parse_file, to_text

try:
    __version__ = version("symopt")
except PackageNotFoundError:  # pragma: no cover - running from a checkout without install
    __version__ = "0+unknown"

__all__ = [
    "Candidate", "Program", "ProgramError", "SearchFailedError", "SearchRun", "Stmt",
    "SymoptError", "UserError",
    "canonical_hash", "check", "export_optax", "fingerprint", "is_valid", "load_run",
    "optimizer", "parse", "parse_file", "programs", "search", "simplify", "to_optax", "to_text",
    "tune",
]
