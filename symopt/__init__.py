"""symopt: discover optimization algorithms by evolving small symbolic programs.

>>> import symopt
>>> p = symopt.parse_file("programs/lion.prog")
>>> p.n_state
1
"""

from symopt.compile import to_optax
from symopt.errors import ProgramError, SymoptError, UserError
from symopt.lang import Program, Stmt, check, is_valid, parse, parse_file, to_text

__version__ = "0.1.0"

__all__ = [
    "Program", "ProgramError", "Stmt", "SymoptError", "UserError", "check", "is_valid", "parse",
    "parse_file", "to_optax", "to_text",
]
