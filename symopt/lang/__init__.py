"""The optimizer-program language: model, parser, printer, registry, type checker."""

from symopt.lang.kinds import Kind
from symopt.lang.model import Arg, Program, Stmt
from symopt.lang.parser import parse, parse_file
from symopt.lang.printer import format_stmt, to_text
from symopt.lang.registry import FUNCTIONS, Function
from symopt.lang.typecheck import check, infer, is_valid

__all__ = [
    "FUNCTIONS", "Arg", "Function", "Kind", "Program", "Stmt", "check", "format_stmt", "infer",
    "is_valid", "parse", "parse_file", "to_text",
]
