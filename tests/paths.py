"""Files the tests read, found from this file: the tests run from any directory.

Built-in programs come from the installed package (`symopt.programs`, package data), the
test programs and search configs from this checkout.
"""

from __future__ import annotations

from pathlib import Path

import symopt
from symopt import programs

ROOT = Path(__file__).resolve().parent.parent
TEST_PROGRAMS = ROOT / "tests" / "programs"
CONFIGS = ROOT / "search_configs"
#: The folder the imported `symopt` lives in: PYTHONPATH for subprocesses that import it.
IMPORT_ROOT = Path(symopt.__file__).resolve().parent.parent


def builtin_file(name: str) -> str:
    """The file of built-in program `name` (``"adamw"``), as a string for argv lists too."""
    return str(programs.path(name))


def local_program(name: str) -> str:
    """The file `name` (``"lion_raw.prog"``) of ``tests/programs``."""
    return str(TEST_PROGRAMS / name)

#: Every built-in program's file, sorted by name.
PROGRAM_FILES = [builtin_file(name) for name in programs.names()]
