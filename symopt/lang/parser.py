"""`.prog` text -> `Program`: Python's `ast`, then a strict grammar check.

The text is parsed, never executed: `ast.parse` builds a syntax tree and this
module walks it, accepting only the small language (README "The language") and turning
nested expressions into single-operation statements. Every problem is a
`ProgramError` with `file:line:col: message`.

>>> p = parse('''
... def train(w, g, m, lr):
...     m = interp(g, m, 0.9)
...     update = sign(m) * lr
...     return update, m
... ''')
>>> [s.fn for s in p.body]
['interp', 'sign', 'mul']
"""

from __future__ import annotations

import ast
import math
import os
import re
import sys

from symopt.checks import MAX_FILE_BYTES
from symopt.errors import ProgramError
from symopt.files import FileError, read_bytes
from symopt.lang.model import Arg, Program, Stmt
from symopt.lang.registry import FUNCTIONS, IDENTITY, INFIX, PREFIX

#: Larger files are refused before parsing: a real program is a few hundred bytes.
MAX_BYTES = MAX_FILE_BYTES
#: Programs with more statements (after flattening nested expressions) are refused:
#: compiling one costs time and memory that grow with its size.
MAX_STATEMENTS = 1000

#: Python's operators, by the symbol the function registry writes them with.
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_BINOP_HINTS = {ast.Pow: "power(x, y)", ast.Mod: None, ast.FloorDiv: None, ast.MatMult: "dot(x, y)"}

_FORBIDDEN = {
    ast.If: "`if` statements are not allowed",
    ast.IfExp: "conditional expressions are not allowed",
    ast.For: "loops are not allowed",
    ast.AsyncFor: "loops are not allowed",
    ast.While: "loops are not allowed",
    ast.comprehension: "comprehensions are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.Import: "imports are not allowed",
    ast.ImportFrom: "imports are not allowed",
    ast.Attribute: "attribute access is not allowed",
    ast.Subscript: "subscripts are not allowed",
    ast.Lambda: "lambdas are not allowed",
    ast.keyword: "keyword arguments are not allowed",
    ast.Starred: "starred arguments are not allowed",
    ast.JoinedStr: "string literals are not allowed",
    ast.ClassDef: "classes are not allowed",
    ast.With: "`with` statements are not allowed",
    ast.Try: "`try` statements are not allowed",
    ast.Global: "`global` is not allowed",
    ast.Nonlocal: "`nonlocal` is not allowed",
    ast.Delete: "`del` is not allowed",
    ast.AugAssign: "augmented assignment is not allowed; write `x = x + y`",
    ast.AnnAssign: "annotated assignment is not allowed",
    ast.Compare: "comparisons are not allowed",
    ast.BoolOp: "boolean operators are not allowed",
    ast.NamedExpr: "`:=` is not allowed",
    ast.Await: "`await` is not allowed",
    ast.Yield: "`yield` is not allowed",
    ast.YieldFrom: "`yield` is not allowed",
    ast.List: "lists are not allowed",
    ast.Dict: "dicts are not allowed",
    ast.Set: "sets are not allowed",
}


def parse_file(path: str | os.PathLike, *, check: bool = True) -> Program:
    """Read and parse a `.prog` file (see `parse`); errors name the file.

    Only a regular file of at most `MAX_BYTES` is read: a directory, a FIFO, a device
    (`/dev/zero`, also behind a symbolic link) or a huge file is refused before reading,
    and opening never blocks (a FIFO without a writer cannot hang the caller).

    >>> from symopt import programs
    >>> programs.load("sgd").n_state
    0
    >>> parse_file("/dev/zero")
    Traceback (most recent call last):
    ...
    symopt.errors.ProgramError: /dev/zero:1:1: not a regular file (a character device); \
a program is read from a regular .prog file
    """
    path = os.fspath(path)
    try:
        data = read_bytes(path, MAX_BYTES)
    except FileError as err:
        reason = err.reason
        if reason.startswith("not a regular file"):
            reason += "; a program is read from a regular .prog file"
        elif reason.startswith("file too large") and "(" in reason:
            size = reason[reason.index("(") + 1:].split(" ")[0]
            reason = (f"file too large ({size} bytes; a program file is at most {MAX_BYTES} "
                      f"bytes, 1 MB)")
        raise ProgramError.at(path, 1, 1, reason) from None
    return parse(data, path, check=check)


def parse(source: str | bytes, filename: str = "<string>", *, check: bool = True) -> Program:
    """Parse program text into a `Program`; with `check`, also type-check it.

    Raises `ProgramError` (`file:line:col: message`) for anything outside the
    language; nothing in `source` is ever executed.
    """
    text = _decode(source, filename)
    _check_size(text, filename)
    program = _Parser(filename).parse_module(text)
    if len(program.body) > MAX_STATEMENTS:
        raise ProgramError.at(filename, 1, 1, _too_many(len(program.body)))
    if check:
        from symopt.lang.typecheck import check as typecheck

        problems = typecheck(program, filename)
        if problems:
            raise ProgramError(problems)
    return program


def _too_many(n: int) -> str:
    return (f"program too large: {n} statements (nested expressions counted as one statement "
            f"per operation); a program has at most {MAX_STATEMENTS} statements")


_ASSIGNMENT = re.compile(r"^[ \t]+[A-Za-z_]\w*[ \t]*=[^=]", re.MULTILINE)


def _check_size(text: str, filename: str) -> None:
    """Refuse, before building a syntax tree, a text with more assignments than
    `MAX_STATEMENTS` (each is at least one statement): parsing costs memory and time."""
    n = len(_ASSIGNMENT.findall(text))
    if n > MAX_STATEMENTS:
        raise ProgramError.at(filename, 1, 1, _too_many(n))


def _decode(source: str | bytes, filename: str) -> str:
    """Bytes -> text (UTF-8; a leading byte-order mark is dropped, as Python does)."""
    if isinstance(source, str):
        if len(source) > MAX_BYTES:
            raise ProgramError.at(filename, 1, 1, f"program too large ({len(source)} characters;"
                                                  f" a program is at most {MAX_BYTES})")
        return source.removeprefix("\ufeff")
    if len(source) > MAX_BYTES:
        raise ProgramError.at(filename, 1, 1, f"file too large ({len(source)} bytes; a program "
                                              f"is at most {MAX_BYTES} bytes)")
    try:
        return source.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as err:
        before = source[: err.start]
        line = before.count(b"\n") + 1
        col = err.start - (before.rfind(b"\n") + 1) + 1
        raise ProgramError.at(filename, line, col,
                              f"not UTF-8 text (byte 0x{source[err.start]:02x})") from None


def _tree_depth(tree: ast.AST) -> int:
    """Nesting depth of a syntax tree, found without recursion."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _header(text: str) -> str:
    lines = []
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#"):
            lines.append(stripped)
        elif stripped:
            break
    return "\n".join(lines)


class _Parser:
    def __init__(self, filename: str):
        self.file = filename
        self.body: list[Stmt] = []
        self.defined: set[str] = set()
        self.taken: set[str] = set()
        self.counter = 0

    def error(self, node, message: str) -> ProgramError:
        line = getattr(node, "lineno", 1) or 1
        col = (getattr(node, "col_offset", 0) or 0) + 1
        return ProgramError.at(self.file, line, col, message)

    def parse_module(self, text: str) -> Program:
        try:
            tree = ast.parse(text, filename=self.file)
        except SyntaxError as err:
            msg = err.msg or "invalid syntax"
            raise ProgramError.at(self.file, err.lineno or 1, err.offset or 1,
                                  f"syntax error: {msg}") from None
        except (ValueError, RecursionError, MemoryError) as err:
            # Python's parser gives up on very deep nesting with an empty MemoryError
            why = str(err) if isinstance(err, ValueError) and str(err) else (
                "expressions nested too deeply for Python's parser")
            raise ProgramError.at(self.file, 1, 1, f"syntax error: {why}") from None
        defs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef):
                raise self.error(node, self._describe(
                    node, "a program is one `def train(w, g, ..., lr):` and nothing else at "
                          "the top level"))
        if not defs:
            raise ProgramError.at(self.file, 1, 1, "no `def` found: a program is one "
                                                   "`def train(w, g, ..., lr):`")
        if len(defs) > 1:
            raise self.error(defs[1], f"a program has exactly one `def`; found {len(defs)}")
        self.taken = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        self.taken |= {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}
        depth = _tree_depth(tree)
        if depth > MAX_STATEMENTS + 16:  # each level is at least one operation
            raise ProgramError.at(self.file, 1, 1, f"expression nested too deeply ({depth} "
                                                   f"levels; a program has at most "
                                                   f"{MAX_STATEMENTS} operations)")
        # Flattening recurses once per level: a long `g + g + ...` under the statement
        # limit must not hit Python's default recursion limit.
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old, 8 * depth + 1000))
        try:
            return self.parse_def(defs[0], _header(text))
        except RecursionError:
            raise ProgramError.at(self.file, 1, 1, "expression nested too deeply") from None
        finally:
            sys.setrecursionlimit(old)

    def _describe(self, node, default: str) -> str:
        if type(node) in _FORBIDDEN:
            return _FORBIDDEN[type(node)]
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(
                node.value.value, str):
            return "string literals are not allowed"
        return default

    def parse_def(self, fn: ast.FunctionDef, header: str) -> Program:
        if fn.decorator_list:
            raise self.error(fn.decorator_list[0], "decorators are not allowed")
        a = fn.args
        if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs or a.defaults or a.kw_defaults:
            raise self.error(fn, "parameters are plain names: `def train(w, g, <state...>, lr"
                                 "[, step]):`")
        if fn.returns is not None:
            raise self.error(fn.returns, "annotations are not allowed")
        params = []
        for arg in a.args:
            if arg.annotation is not None:
                raise self.error(arg.annotation, "annotations are not allowed")
            if arg.arg in params:
                raise self.error(arg, f"parameter '{arg.arg}' appears twice")
            if arg.arg in FUNCTIONS:
                raise self.error(arg, f"parameter '{arg.arg}' has the name of a library function")
            params.append(arg.arg)
        has_step = len(params) >= 4 and params[-1] == "step"
        if len(params) < 3 or (params[-1] == "step" and not has_step):
            raise self.error(fn, "a program takes at least (w, g, lr): weight, gradient, "
                                 "state slots, learning rate, and optionally step")
        self.defined = set(params)
        n_state = len(params) - (4 if has_step else 3)
        returns: tuple[str, ...] | None = None
        ret_node: ast.Return | None = None
        for node in fn.body:
            if returns is not None:
                raise self.error(node, "statements after `return` are not allowed")
            if isinstance(node, ast.Assign):
                self.parse_assign(node)
            elif isinstance(node, ast.Return):
                returns, ret_node = self.parse_return(node), node
            else:
                raise self.error(node, self._describe(
                    node, f"only `name = expression` and `return` are allowed, "
                          f"not {type(node).__name__}"))
        if returns is None or ret_node is None:  # set together
            raise self.error(fn, "missing `return update, <state slots...>`")
        expected = 1 + n_state
        if len(returns) != expected:
            names = ", ".join(("update",) + tuple(params[2:2 + n_state]))
            raise self.error(ret_node, f"wrong number of returned values: expected {expected} "
                                       f"({names}), got {len(returns)}")
        return Program(params=tuple(params), body=tuple(self.body), returns=returns,
                       name=fn.name, header=header, return_line=ret_node.lineno,
                       return_col=ret_node.col_offset + 1)

    def parse_assign(self, node: ast.Assign) -> None:
        if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
            bad = node.targets[-1] if len(node.targets) == 1 else node
            raise self.error(bad, self._describe(
                bad, "assign to one plain name: `x = expression`"))
        target = node.targets[0].id
        if target in FUNCTIONS:
            raise self.error(node.targets[0], f"'{target}' is a library function name")
        self.emit(target, node.value)
        self.defined.add(target)

    def parse_return(self, node: ast.Return) -> tuple[str, ...]:
        if node.value is None:
            raise self.error(node, "`return` needs values: `return update, <state slots...>`")
        values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
        names = []
        for v in values:
            if isinstance(v, ast.Name):
                self.name_arg(v)
                names.append(v.id)
            else:
                names.append(self.temp(v))
        return tuple(names)

    def fresh(self) -> str:
        while True:
            self.counter += 1
            name = f"t{self.counter}"
            if name not in self.taken and name not in FUNCTIONS:
                self.taken.add(name)
                return name

    def emit(self, target: str, node: ast.expr) -> str:
        """Append statements computing `node` into `target`; return `target`."""
        fn, args = self.operation(node)
        self.body.append(Stmt(target, fn, tuple(args), node.lineno, node.col_offset + 1))
        return target

    def temp(self, node: ast.expr) -> str:
        """Append statements computing `node` into a fresh temporary; return its name."""
        fn, args = self.operation(node)
        target = self.fresh()
        self.body.append(Stmt(target, fn, tuple(args), node.lineno, node.col_offset + 1))
        return target

    def operation(self, node: ast.expr) -> tuple[str, list[Arg]]:
        const = self.constant(node)
        if const is not None:
            return IDENTITY, [const]
        if isinstance(node, ast.BinOp):
            op = INFIX.get(_BINOPS.get(type(node.op), ""))
            if op is None:
                hint = _BINOP_HINTS.get(type(node.op))
                raise self.error(node, "operator not supported" + (f"; use {hint}" if hint else ""))
            return op, [self.arg(node.left), self.arg(node.right)]
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return PREFIX["-"], [self.arg(node.operand)]
            if isinstance(node.op, ast.UAdd):
                return IDENTITY, [self.arg(node.operand)]
            raise self.error(node, "operator not supported")
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, (ast.Name, ast.Constant)):
            return IDENTITY, [self.arg(node)]
        raise self.error(node, self._describe(node, f"{type(node).__name__} is not allowed "
                                                    f"in an expression"))

    def call(self, node: ast.Call) -> tuple[str, list[Arg]]:
        if not isinstance(node.func, ast.Name):
            raise self.error(node.func, self._describe(node.func, "only library functions can "
                                                                  "be called"))
        name = node.func.id
        fn = FUNCTIONS.get(name)
        if fn is None:
            raise self.error(node.func, f"unknown function '{name}' (see `symopt functions`)")
        if node.keywords:
            raise self.error(node.keywords[0], "keyword arguments are not allowed")
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise self.error(a, "starred arguments are not allowed")
        if len(node.args) != fn.arity:
            raise self.error(node, f"{name}() takes {fn.arity} argument"
                                   f"{'' if fn.arity == 1 else 's'}, got {len(node.args)}")
        return name, [self.arg(a) for a in node.args]

    def arg(self, node: ast.expr) -> Arg:
        """A name or constant as is; anything else flattened into a fresh temporary."""
        const = self.constant(node)
        if const is not None:
            return const
        if isinstance(node, ast.Name):
            return self.name_arg(node)
        return self.temp(node)

    def name_arg(self, node: ast.Name) -> str:
        if node.id not in self.defined:
            if node.id in FUNCTIONS:
                raise self.error(node, f"'{node.id}' is a function; call it: {node.id}(...)")
            raise self.error(node, f"undefined variable '{node.id}'")
        return node.id

    def constant(self, node: ast.expr) -> float | None:
        sign = 1.0
        inner = node
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)) and \
                isinstance(node.operand, ast.Constant):
            sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
            inner = node.operand
        if not isinstance(inner, ast.Constant):
            return None
        v = inner.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            what = ("string literals" if isinstance(v, (str, bytes))
                    else f"{type(v).__name__} constants")
            raise self.error(inner, f"{what} are not allowed")
        try:
            value = sign * float(v)
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            raise self.error(inner, "constant is too large to be a finite number")
        return value
