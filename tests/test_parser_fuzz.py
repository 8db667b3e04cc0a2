"""Property tests: random text and random Python ASTs only ever raise ProgramError.

Generated programs call `__import__`, `open`, `exec` and friends; `eval` and `exec`
are patched to fail loudly, so a parser that executed program text would be caught.
"""

import ast
import builtins
import contextlib
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symopt.errors import ProgramError
from symopt.lang import parse, to_text

NAMES = ["w", "g", "m", "lr", "step", "x", "sqrt", "interp", "__import__", "os", "open",
         "exec", "eval", "norm", "sign", "foo", "__class__"]


def refuse(*args, **kwargs):
    raise AssertionError("the parser executed program text")


@contextlib.contextmanager
def no_execution():
    # `compile` stays: `ast.parse` is built on it (in AST-only mode, which runs nothing).
    with mock.patch.object(builtins, "eval", refuse), mock.patch.object(builtins, "exec", refuse):
        yield


def parse_or_error(text):
    try:
        with no_execution():
            p = parse(text, "fuzz.prog")
    except ProgramError as err:
        assert str(err).startswith("fuzz.prog:")
        return None
    assert parse(to_text(p)) == p  # anything accepted round-trips
    return p


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_random_text(text):
    parse_or_error(text)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes(data):
    try:
        with no_execution():
            parse(data, "fuzz.prog")
    except ProgramError:
        pass


def exprs():
    leaf = st.one_of(
        st.sampled_from(NAMES).map(lambda n: ast.Name(n, ast.Load())),
        st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-5, 5),
                  st.text(max_size=3), st.booleans(), st.none()).map(ast.Constant),
    )

    def extend(children):
        return st.one_of(
            st.tuples(children, st.sampled_from([ast.Add(), ast.Sub(), ast.Mult(), ast.Div(),
                                                 ast.Pow(), ast.Mod()]), children)
            .map(lambda t: ast.BinOp(t[0], t[1], t[2])),
            st.tuples(st.sampled_from([ast.USub(), ast.UAdd(), ast.Not()]), children)
            .map(lambda t: ast.UnaryOp(t[0], t[1])),
            st.tuples(st.sampled_from(NAMES), st.lists(children, max_size=3))
            .map(lambda t: ast.Call(ast.Name(t[0], ast.Load()), t[1], [])),
            st.tuples(children, st.sampled_from(["T", "system", "__class__"]))
            .map(lambda t: ast.Attribute(t[0], t[1], ast.Load())),
            st.tuples(children, children).map(lambda t: ast.Subscript(t[0], t[1], ast.Load())),
            children.map(lambda c: ast.Lambda(ast.arguments([], [], None, [], [], None, []), c)),
            st.lists(children, max_size=3).map(lambda cs: ast.Tuple(cs, ast.Load())),
        )

    return st.recursive(leaf, extend, max_leaves=12)


def stmts():
    assign = st.tuples(st.sampled_from(NAMES), exprs()).map(
        lambda t: ast.Assign([ast.Name(t[0], ast.Store())], t[1], lineno=1))
    other = st.one_of(
        exprs().map(lambda e: ast.Expr(e)),
        st.sampled_from(["os", "sys"]).map(lambda n: ast.Import([ast.alias(n)])),
        exprs().map(lambda e: ast.If(e, [ast.Pass()], [])),
        exprs().map(lambda e: ast.Return(e)),
    )
    return st.one_of(assign, assign, other)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(NAMES), min_size=0, max_size=6), st.lists(stmts(), max_size=6),
       st.lists(exprs(), min_size=1, max_size=3))
def test_random_python_asts(params, body, returns):
    fn = ast.FunctionDef(
        name="train", args=ast.arguments([], [ast.arg(p) for p in params], None, [], [], None, []),
        body=body + [ast.Return(ast.Tuple(returns, ast.Load()))], decorator_list=[],
        returns=None, type_params=[])
    module = ast.fix_missing_locations(ast.Module([fn], []))
    try:
        text = ast.unparse(module)
    except Exception:  # hypothesis built an AST Python itself cannot print
        return
    parse_or_error(text)
