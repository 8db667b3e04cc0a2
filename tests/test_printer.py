"""Printer: canonical text is a fixed point and round-trips through the parser."""

import pytest
from conftest import PROGRAMS
from hypothesis import given
from hypothesis import strategies as st

from symopt.lang import parse, parse_file, to_text
from symopt.lang.printer import format_constant


@pytest.mark.parametrize("path", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_round_trip_for_every_program(path):
    p = parse_file(path)
    text = to_text(p)
    assert parse(text) == p
    assert to_text(parse(text)) == text
    assert parse(text).header == p.header


def test_every_statement_prints_as_one_operation():
    p = parse("def f(w, g, m, lr):\n    m = interp(g, m, 0.9)\n"
              "    u = -(sign(m) + w * 0.1) * (lr * 0.1)\n    return u, m\n")
    body = to_text(p).splitlines()[1:-1]
    assert len(body) == len(p.body)
    for line in body:
        rhs = line.split(" = ", 1)[1]
        assert rhs.count("(") <= 1, line


def test_negative_of_a_constant_keeps_its_meaning():
    p = parse("def f(w, g, lr):\n    a = negative(-0.5)\n    u = g * a\n    return u\n")
    assert parse(to_text(p)) == p


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_constants_print_exactly(value):
    assert float(format_constant(value)) == value
    p = parse(f"def f(w, g, lr):\n    u = g * {format_constant(value)}\n    return u\n")
    assert p.constants() == [value]


def test_non_finite_constants_cannot_be_printed():
    with pytest.raises(ValueError):
        format_constant(float("inf"))
