"""Equivalent and non-equivalent program pairs, for the canonical hash and the fingerprint."""

from __future__ import annotations

import subprocess
import sys

import pytest
from paths import IMPORT_ROOT, PROGRAM_FILES, builtin_file

from symopt.analysis import canonical_hash, fingerprint
from symopt.analysis.fingerprinting import same_behaviour
from symopt.lang import parse, parse_file
from symopt.lang.model import Stmt
from symopt.lang.registry import FUNCTIONS

P1, P2, P3, P4 = "w, g, lr", "w, g, m, lr", "w, g, m, v, lr", "w, g, m, lr, step"
PROGRAMS = PROGRAM_FILES


def prog(params: str, body: str):
    """A program from `;`-separated statements ending in `return ...`."""
    lines = "\n".join(f"    {s.strip()}" for s in body.split(";"))
    return parse(f"def train({params}):\n{lines}\n")


# --- structural equivalences: same hash (and so the same fingerprint) ---
STRUCTURAL = [
    (P1, "u = g * lr; return u", P1, "x = g * lr; return x"),
    (P1, "u = g * lr; return u", P1, "u = lr * g; return u"),
    (P1, "a = g + w; u = a * lr; return u", P1, "a = w + g; u = lr * a; return u"),
    (P1, "a = maximum(g, w); u = a * lr; return u", P1, "a = maximum(w, g); u = a * lr; return u"),
    (P1, "a = minimum(g, w); u = a * lr; return u", P1, "a = minimum(w, g); u = lr * a; return u"),
    (P1, "d = dot(g, w); u = g * d; u = u * lr; return u",
     P1, "d = dot(w, g); u = d * g; u = lr * u; return u"),
    (P1, "d = cosine_sim(g, w); u = g * d; return u",
     P1, "d = cosine_sim(w, g); u = g * d; return u"),
    (P1, "e = exp(w); u = g * lr; return u", P1, "u = g * lr; return u"),
    (P1, "u = sign(g); u = g * lr; return u", P1, "u = g * lr; return u"),
    (P1, "a = square(g); b = abs(w); u = a + b; u = u * lr; return u",
     P1, "b = abs(w); a = square(g); u = a + b; u = u * lr; return u"),
    (P1, "c = g; u = c * lr; return u", P1, "u = g * lr; return u"),
    (P1, "u = sign(g) * lr; return u", P1, "s = sign(g); u = s * lr; return u"),
    (P2, "m = interp(g, m, 0.9); u = m * lr; return u, m",
     "w, g, mom, lr", "mom = interp(g, mom, 0.9); u = mom * lr; return u, mom"),
    (P1, "u = g * lr; return u", "w, g, rate", "u = g * rate; return u"),
    (P1, "u = g * lr; return u", "w, g, lr, step", "u = g * lr; return u"),
    (P3, "m = interp(g, m, 0.9); v = interp(square(g), v, 0.99); u = m / sqrt(v) * lr; "
         "return u, m, v",
     P3, "q = square(g); v = interp(q, v, 0.99); m = interp(g, m, 0.9); u = m / sqrt(v) * lr; "
         "return u, m, v"),
    (P3, "m = interp(g, m, 0.9); v = interp(square(g), v, 0.99); u = lr * (m / sqrt(v)); "
         "return u, m, v",
     P3, "v = interp(square(g), v, 0.99); m = interp(g, m, 0.9); u = (m / sqrt(v)) * lr; "
         "return u, m, v"),
    (P2, "m = interp(g, m, 0.9); junk = m * w; u = m * lr; return u, m",
     P2, "m = interp(g, m, 0.9); u = m * lr; return u, m"),
    (P2, "n = interp(g, m, 0.9); u = n * lr; return u, n",
     P2, "m = interp(g, m, 0.9); u = lr * m; return u, m"),
    (P4, "p = power(0.9, step); u = g * p; u = u * lr; m = g + m; return u, m",
     P4, "m2 = m + g; p = power(0.9, step); u = p * g; u = lr * u; return u, m2"),
    (P1, "a = g * w; b = a + g; u = b * lr; return u",
     P1, "a = w * g; b = g + a; u = lr * b; return u"),
    (P1, "u = g * lr; z = u + w; return u", P1, "u = g * lr; return u"),
]


def _renamed(p):
    """Every non-parameter variable renamed."""
    params = set(p.params)
    def ren(a):
        return a if not isinstance(a, str) or a in params else f"zz_{a}"
    body = tuple(Stmt(ren(s.target) if s.target not in params else s.target, s.fn,
                      tuple(ren(a) for a in s.args)) for s in p.body)
    return p.replace(body=body, returns=tuple(ren(r) for r in p.returns))


def _swapped(p):
    """The arguments of every commutative function swapped."""
    body = tuple(Stmt(s.target, s.fn, tuple(reversed(s.args)) if FUNCTIONS[s.fn].commutative
                      else s.args) for s in p.body)
    return p.replace(body=body)


def _structural_pairs():
    pairs = [(prog(pa, a), prog(pb, b)) for pa, a, pb, b in STRUCTURAL]
    for path in PROGRAMS:
        p = parse_file(path)
        pairs.append((p, _renamed(p)))
        pairs.append((p, _swapped(p)))
    return pairs


# --- algebraic equivalences: the fingerprint sees them, the hash does not ---
ALGEBRAIC = [
    (P1, "u = g + g; u = u * lr; return u", "u = 2.0 * g; u = u * lr; return u"),
    (P1, "u = interp(g, w, 0.3) * lr; return u", "u = ((1 - 0.3) * g + 0.3 * w) * lr; return u"),
    (P1, "u = sqrt(square(g)) * lr; return u", "u = abs(g) * lr; return u"),
    (P1, "u = g / abs(g) * lr; return u", "u = sign(g) * lr; return u"),
    (P1, "u = g / sqrt(g * g) * lr; return u", "u = sign(g) * lr; return u"),
    (P1, "u = -(-g) * lr; return u", "u = g * lr; return u"),
    (P1, "u = g * 1.0 * lr; return u", "u = g * lr; return u"),
    (P1, "u = (g + 0.0) * lr; return u", "u = g * lr; return u"),
    (P1, "u = interp(g, w, 0.0) * lr; return u", "u = g * lr; return u"),
    (P1, "u = interp(g, w, 1.0) * lr; return u", "u = w * lr; return u"),
    (P1, "u = g * (lr * 0.001 * 2); return u", "u = g * (lr * 0.002); return u"),
    (P1, "u = w / reciprocal(lr); return u", "u = w * lr; return u"),
    (P1, "u = square(g) * lr; return u", "u = g * g * lr; return u"),
    (P1, "u = cube(g) * lr; return u", "u = g * g * g * lr; return u"),
    (P1, "u = (g - w) * lr; return u", "u = (g + -w) * lr; return u"),
    (P1, "u = (g - w) * lr; return u", "u = -(w - g) * lr; return u"),
    (P1, "u = (g + w) * lr; return u", "u = g * lr + w * lr; return u"),
    (P1, "u = abs(-g) * lr; return u", "u = abs(g) * lr; return u"),
    (P1, "u = sign(sign(g)) * lr; return u", "u = sign(g) * lr; return u"),
    (P1, "u = maximum(g, g) * lr; return u", "u = g * lr; return u"),
    (P1, "u = g * norm(g) * lr; return u", "u = g * sqrt(dot(g, g)) * lr; return u"),
    (P2, "m = interp(g, m, 0.9); u = m * lr; return u, m",
     "m = m * 0.9 + g * 0.1; u = m * lr; return u, m"),
    (P1, "u = g / 2.0 * lr; return u", "u = g * 0.5 * lr; return u"),
    (P1, "u = exp2(g) * lr; return u", "u = power(2.0, g) * lr; return u"),
    (P1, "u = tanh(g) * lr; return u",
     "e = exp(2.0 * g); u = (e - 1.0) / (e + 1.0) * lr; return u"),
    (P1, "u = sinh(g) * lr; return u", "u = (exp(g) - exp(-g)) * 0.5 * lr; return u"),
    (P1, "u = clip(g, 1.0) * lr; return u", "u = maximum(minimum(g, 1.0), -1.0) * lr; return u"),
    (P1, "u = reciprocal(reciprocal(g)) * lr; return u", "u = g * lr; return u"),
    (P1, "u = minimum(g, w) * lr; return u", "u = -maximum(-g, -w) * lr; return u"),
    (P1, "u = exp(log(g)) * lr; return u", "u = abs(g) * lr; return u"),
    (P1, "u = g * 0.9 * lr; return u", "u = g * 0.90000001 * lr; return u"),
    (P1, "u = (g * w) * (lr * 3.0); return u", "u = g * (w * 3.0) * lr; return u"),
]


def _non_equivalent():
    pairs = [
        (P1, "u = g * lr; return u", P1, "u = w * lr; return u"),
        (P1, "u = (g - w) * lr; return u", P1, "u = (w - g) * lr; return u"),
        (P1, "u = g / w * lr; return u", P1, "u = w / g * lr; return u"),
        (P1, "u = power(g, 2.0) * lr; return u", P1, "u = power(2.0, g) * lr; return u"),
        (P2, "m = interp(g, m, 0.9); u = m * lr; return u, m",
         P2, "m = interp(m, g, 0.9); u = m * lr; return u, m"),
        (P2, "m = interp(g, m, 0.9); u = m * lr; return u, m",
         P2, "m = interp(g, m, 0.99); u = m * lr; return u, m"),
        (P1, "u = g * 0.9 * lr; return u", P1, "u = g * 0.91 * lr; return u"),
        (P1, "u = g * lr; return u", P1, "u = g * lr * lr; return u"),
        (P1, "u = sign(g) * lr; return u", P1, "u = g * lr; return u"),
        (P1, "u = abs(g) * lr; return u", P1, "u = g * lr; return u"),
        (P1, "u = g * norm(g) * lr; return u", P1, "u = g * global_norm(g) * lr; return u"),
        (P1, "u = g * dot(g, w); return u", P1, "u = g * cosine_sim(g, w); return u"),
        (P1, "u = sqrt(g) * lr; return u", P1, "u = cbrt(g) * lr; return u"),
        (P1, "u = exp(g) * lr; return u", P1, "u = expm1(g) * lr; return u"),
        (P1, "u = square(g) * lr; return u", P1, "u = cube(g) * lr; return u"),
        (P1, "u = maximum(g, w) * lr; return u", P1, "u = minimum(g, w) * lr; return u"),
        (P1, "u = tanh(g) * lr; return u", P1, "u = arctan(g) * lr; return u"),
        (P1, "u = sin(g) * lr; return u", P1, "u = cos(g) * lr; return u"),
        (P1, "u = arcsin(g) * lr; return u", P1, "u = arccos(g) * lr; return u"),
        (P3, "m = interp(g, m, 0.9); v = interp(square(g), v, 0.99); u = m * lr; return u, m, v",
         P3, "m = interp(g, m, 0.9); v = interp(square(g), v, 0.99); u = m * lr; return u, v, m"),
        (P2, "n = interp(g, m, 0.9); u = n * lr; return u, n",
         P2, "n = interp(g, m, 0.9); u = m * lr; return u, n"),
        (P4, "u = g * power(0.9, step) * lr; return u, m",
         P4, "u = g * power(0.9, 2.0) * lr; return u, m"),
        (P1, "u = g * lr; return u", P1, "u = (g + w * 0.01) * lr; return u"),
        (P1, "u = clip(g, 1.0) * lr; return u", P1, "u = clip(g, 3.0) * lr; return u"),
        (P1, "u = reciprocal(g) * lr; return u", P1, "u = g * lr; return u"),
        (P1, "u = g * 0.1 * lr; return u", P1, "u = g / 0.1 * lr; return u"),
        (P1, "u = g * lr; return u", P1, "u = g * lr + 0.001; return u"),
        (P2, "m = m + g; u = m * lr; return u, m", P2, "m = m + g; u = g * lr; return u, m"),
        (P1, "u = log(g) * lr; return u", P1, "u = log2(g) * lr; return u"),
        (P1, "u = g * (lr * 0.1); return u", P1, "u = g * (lr + 0.1); return u"),
    ]
    out = [(prog(pa, a), prog(pb, b)) for pa, a, pb, b in pairs]
    files = [("adam", "adamw"), ("lion", "signum"), ("momentum", "nesterov"), ("sgd", "signum"),
             ("rmsprop", "adagrad"), ("paper_adamw", "adamw")]
    out += [(parse_file(builtin_file(a)), parse_file(builtin_file(b))) for a, b in files]
    return out


STRUCTURAL_PAIRS = _structural_pairs()
ALGEBRAIC_PAIRS = [(prog(p, a), prog(p, b)) for p, a, b in ALGEBRAIC]
NON_EQUIVALENT_PAIRS = _non_equivalent()


def test_pair_counts():
    assert len(STRUCTURAL_PAIRS) >= 30
    assert len(ALGEBRAIC_PAIRS) >= 30
    assert len(NON_EQUIVALENT_PAIRS) >= 30


@pytest.mark.parametrize("a, b", STRUCTURAL_PAIRS)
def test_structural_equivalents_share_hash_and_fingerprint(a, b):
    assert canonical_hash(a) == canonical_hash(b)
    assert fingerprint(a) == fingerprint(b)


@pytest.mark.parametrize("a, b", ALGEBRAIC_PAIRS)
def test_algebraic_equivalents_share_fingerprint_only(a, b):
    assert fingerprint(a) == fingerprint(b)
    assert canonical_hash(a) != canonical_hash(b)


@pytest.mark.parametrize("a, b", NON_EQUIVALENT_PAIRS)
def test_non_equivalents_differ_in_hash_and_fingerprint(a, b):
    assert canonical_hash(a) != canonical_hash(b)
    assert fingerprint(a) != fingerprint(b)


def test_all_classic_programs_are_pairwise_distinct():
    programs = [parse_file(p) for p in PROGRAMS]
    assert len({canonical_hash(p) for p in programs}) == len(programs)
    assert len({fingerprint(p) for p in programs}) == len(programs)


def test_hash_ignores_dead_code_but_not_a_live_constant():
    a = prog(P1, "u = g * lr; return u")
    dead = prog(P1, "d = exp(g); d = d + w; u = g * lr; return u")
    assert canonical_hash(a) == canonical_hash(dead)
    assert canonical_hash(a) != canonical_hash(prog(P1, "u = g * lr; u = u * 1.0; return u"))


@pytest.mark.slow
def test_hash_and_fingerprint_are_stable_across_processes():
    code = ("from symopt.analysis import canonical_hash, fingerprint\n"
            "from symopt.lang import parse_file\n"
            f"p = parse_file({builtin_file('adamw')!r})\n"
            "print(canonical_hash(p), fingerprint(p))\n")
    p = parse_file(builtin_file("adamw"))
    expected = f"{canonical_hash(p)} {fingerprint(p)}"
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin",
                                  "PYTHONPATH": str(IMPORT_ROOT),
                                  "JAX_PLATFORMS": "cpu"}, check=True)
        assert out.stdout.strip() == expected


def test_rounding_boundary_splits_but_same_behaviour_merges():
    # One output value is 0.47235 within float32 noise: the fourth digit flips.
    a = prog(P1, "u = g / reciprocal(lr); return u")
    b = prog(P1, "u = g * lr; return u")
    assert fingerprint(a) != fingerprint(b)
    assert same_behaviour(a, b)
    assert not same_behaviour(a, prog(P1, "u = g * lr * 1.001; return u"))
