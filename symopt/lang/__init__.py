"""The optimizer-program language: model, parser, printer, registry, type checker, dead code."""

from symopt.lang.dead_code import live_mask, redundant_fraction, remove_dead
from symopt.lang.kinds import Kind
from symopt.lang.model import Arg, Program, Stmt
from symopt.lang.parser import parse, parse_file
from symopt.lang.printer import format_stmt, to_text
from symopt.lang.registry import FUNCTIONS, Function
from symopt.lang.typecheck import TypedProgram, check, infer, is_valid, typed

__all__ = [
    "FUNCTIONS", "Arg", "Function", "Kind", "Program", "Stmt", "TypedProgram", "check",
    "format_stmt", "infer", "is_valid", "live_mask", "parse", "parse_file", "redundant_fraction",
    "remove_dead", "to_text", "typed",
]
