"""Parser: the language is accepted, everything else is a located ProgramError."""

import pytest

from symopt.errors import ProgramError
from symopt.lang import parse, parse_file
from symopt.lang.model import Stmt


def errors_of(text, filename="t.prog"):
    with pytest.raises(ProgramError) as info:
        parse(text, filename)
    return info.value


def test_flattens_nested_expressions_into_single_operations():
    p = parse("def train(w, g, m, v, lr):\n"
              "    m = interp(g, m, 0.9)\n"
              "    v = interp(square(g), v, 0.999)\n"
              "    update = m / (sqrt(v) + 1e-8) * lr\n"
              "    return update, m, v\n")
    assert [s.fn for s in p.body] == ["interp", "square", "interp", "sqrt", "add", "div", "mul"]
    assert p.body[-1] == Stmt("update", "mul", ("t4", "lr"))
    assert p.returns == ("update", "m", "v")
    assert p.state_names == ("m", "v") and p.lr_name == "lr" and not p.has_step


def test_step_parameter_and_positions():
    p = parse("def train(w, g, m, lr, step):\n    u = g * step\n    return u * lr, m\n")
    assert p.has_step and p.lr_name == "lr" and p.state_names == ("m",)
    assert (p.body[0].line, p.body[0].col) == (2, 9)


def test_negative_constants_and_negation():
    p = parse("def f(w, g, lr):\n    a = -0.5\n    b = -g\n    c = g * -2\n    return c\n")
    assert p.body[0] == Stmt("a", "copy", (-0.5,))
    assert p.body[1] == Stmt("b", "negative", ("g",))
    assert p.body[2] == Stmt("c", "mul", ("g", -2.0))


def test_temporaries_never_collide_with_user_names():
    p = parse("def f(w, g, lr):\n    t1 = g * 2.0\n    return t1 * (lr + 1.0)\n")
    targets = [s.target for s in p.body]
    assert targets.count("t1") == 1 and len(set(targets)) == len(targets)


def test_header_comment_is_kept_but_not_part_of_equality():
    a = parse("# Hello\n# world\ndef f(w, g, lr):\n    return g\n")
    b = parse("def f(w, g, lr):\n    return g\n")
    assert a.header == "# Hello\n# world" and a == b


BAD = [
    ("syntax error", "def f(w, g, lr):\n    x = (g +\n", 2, "syntax error"),
    ("unknown function", "def f(w, g, lr):\n    x = foo(g)\n    return x\n", 2,
     "unknown function 'foo'"),
    ("arity", "def f(w, g, lr):\n    x = sqrt(g, g)\n    return x\n", 2, "takes 1 argument"),
    ("for loop", "def f(w, g, lr):\n    for i in g:\n        pass\n    return g\n", 2, "loops"),
    ("while loop", "def f(w, g, lr):\n    while g:\n        pass\n    return g\n", 2, "loops"),
    ("if", "def f(w, g, lr):\n    if g:\n        g = g\n    return g\n", 2, "`if`"),
    ("import", "import os\ndef f(w, g, lr):\n    return g\n", 1, "imports"),
    ("import inside", "def f(w, g, lr):\n    import os\n    return g\n", 2, "imports"),
    ("attribute", "def f(w, g, lr):\n    x = g.T\n    return x\n", 2, "attribute"),
    ("subscript", "def f(w, g, lr):\n    x = g[0]\n    return x\n", 2, "subscripts"),
    ("keyword", "def f(w, g, lr):\n    x = clip(g, c=1.0)\n    return x\n", 2, "keyword"),
    ("lambda", "def f(w, g, lr):\n    x = lambda: g\n    return g\n", 2, "lambdas"),
    ("string", "def f(w, g, lr):\n    x = 'hello'\n    return g\n", 2, "string literals"),
    ("f-string", "def f(w, g, lr):\n    x = f'{g}'\n    return g\n", 2, "string literals"),
    ("dunder import", "def f(w, g, lr):\n    x = __import__('os')\n    return g\n", 2,
     "unknown function '__import__'"),
    ("undefined", "def f(w, g, lr):\n    x = g * y\n    return x\n", 2, "undefined variable 'y'"),
    ("too few returns", "def f(w, g, m, v, lr):\n    return g, m\n", 2,
     "wrong number of returned values: expected 3"),
    ("too many returns", "def f(w, g, lr):\n    return g, g\n", 2,
     "wrong number of returned values: expected 1"),
    ("state as scalar", "def f(w, g, m, lr):\n    s = lr * 2.0\n    return g, s\n", 3,
     "state slot 'm' must be a Tensor, but 's' is a Scalar"),
    ("update as leaf scalar", "def f(w, g, lr):\n    n = norm(g)\n    return n\n", 3,
     "'update' (the first returned value) must be a Tensor"),
    ("two defs", "def f(w, g, lr):\n    return g\ndef h(w, g, lr):\n    return g\n", 3,
     "exactly one `def`"),
    ("no def", "x = 1\n", 1, "a program is one `def"),
    ("plain text", "hi\n", 1, "nothing else at the top level"),
    ("empty", "", 1, "no `def` found"),
    ("only comments", "# nothing here\n", 1, "no `def` found"),
    ("power operator", "def f(w, g, lr):\n    x = g ** 2\n    return x\n", 2, "use power(x, y)"),
    ("aug assign", "def f(w, g, lr):\n    g += 1\n    return g\n", 2, "augmented assignment"),
    ("bool constant", "def f(w, g, lr):\n    x = g * True\n    return x\n", 2, "bool constants"),
    ("too few params", "def f(w, g):\n    return g\n", 1, "at least (w, g, lr)"),
    ("duplicate param", "def f(w, g, g, lr):\n    return g, g\n", 1, "appears twice"),
    ("decorator", "@foo\ndef f(w, g, lr):\n    return g\n", 1, "decorators"),
    ("statement after return", "def f(w, g, lr):\n    return g\n    x = g\n", 3, "after `return`"),
    ("missing return", "def f(w, g, lr):\n    x = g\n", 1, "missing `return"),
    ("huge constant", "def f(w, g, lr):\n    x = g * 1e999\n    return x\n", 2, "too large"),
    ("tuple target", "def f(w, g, lr):\n    a, b = g, g\n    return a\n", 2, "one plain name"),
    ("call of a variable", "def f(w, g, lr):\n    x = g(lr)\n    return x\n", 2,
     "unknown function 'g'"),
    ("function as value", "def f(w, g, lr):\n    x = sqrt\n    return g\n", 2, "is a function"),
]


@pytest.mark.parametrize("name,text,line,fragment", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_located_error(name, text, line, fragment):
    err = errors_of(text)
    first = err.diagnostics[0]
    assert first.file == "t.prog" and first.line == line and first.col >= 1
    assert fragment in first.message, str(err)
    assert str(err).startswith(f"t.prog:{line}:{first.col}: ")


def test_non_utf8_bytes_are_located(tmp_path):
    path = tmp_path / "bin.prog"
    path.write_bytes(b"def f(w, g, lr):\n    x = g \xff\n    return x\n")
    with pytest.raises(ProgramError) as info:
        parse_file(path)
    assert str(info.value).startswith(f"{path}:2:11: not UTF-8")


def test_ten_megabyte_file_is_refused_before_parsing(tmp_path):
    path = tmp_path / "big.prog"
    path.write_bytes(b"def f(w, g, lr):\n" + b"    x = g\n" * 1_100_000 + b"    return x\n")
    assert path.stat().st_size > 10_000_000
    with pytest.raises(ProgramError, match="file too large"):
        parse_file(path)


def test_missing_file_is_a_program_error(tmp_path):
    with pytest.raises(ProgramError, match="cannot read file"):
        parse_file(tmp_path / "nope.prog")


def test_deep_nesting_is_an_error_not_a_crash():
    text = "def f(w, g, lr):\n    x = " + "sqrt(" * 3000 + "g" + ")" * 3000 + "\n    return x\n"
    with pytest.raises(ProgramError):
        parse(text)


def test_nothing_is_executed(tmp_path):
    marker = tmp_path / "pwned"
    text = (f"def f(w, g, lr):\n    x = __import__('os').system('touch {marker}')\n"
            f"    return g\n")
    with pytest.raises(ProgramError):
        parse(text)
    assert not marker.exists()


# -- bounded inputs (issue 16): files are read only if they are small regular files ----------

def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.prog"
    path.write_bytes(b"\xef\xbb\xbfdef train(w, g, lr):\n    return g * lr\n")
    assert [s.fn for s in parse_file(path).body] == ["mul"]
    assert parse("\ufeffdef train(w, g, lr):\n    return g * lr\n").body[0].fn == "mul"


@pytest.mark.parametrize("make, kind", [
    (lambda p: p.symlink_to("/dev/zero"), "not a regular file (a character device)"),
    (lambda p: p.mkdir(), "not a regular file (a directory)"),
    (lambda p: __import__("os").mkfifo(p), "not a regular file (a FIFO)"),
    (lambda p: p.write_bytes(b"#" * 1_000_001), "file too large (1000001 bytes; a program "
                                                "file is at most 1000000 bytes, 1 MB)"),
])
def test_special_and_huge_files_are_refused_before_reading(tmp_path, make, kind):
    path = tmp_path / "x.prog"
    make(path)
    err = str(pytest.raises(ProgramError, parse_file, path).value)
    assert err == f"{path}:1:1: {kind}" or err.startswith(f"{path}:1:1: {kind}")


def test_programs_above_the_statement_limit_are_refused_up_front():
    from symopt.lang.parser import MAX_STATEMENTS

    body = "".join(f"    x{i} = g * 0.5\n" for i in range(MAX_STATEMENTS + 1))
    err = errors_of(f"def train(w, g, lr):\n{body}    return g * lr\n")
    assert f"{MAX_STATEMENTS + 1} statements" in str(err)
    assert f"at most {MAX_STATEMENTS} statements" in str(err)
    # few lines, but more statements once nested expressions are flattened
    line = "    g = g" + " + g" * 40 + "\n"
    lines = MAX_STATEMENTS // 40 + 1
    err = errors_of("def train(w, g, lr):\n" + line * lines + "    return g * lr\n")
    assert f"{lines * 40 + 1} statements" in str(err)
