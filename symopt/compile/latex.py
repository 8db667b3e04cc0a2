"""A program as a LaTeX `algorithm` block (algorithm + algpseudocode packages).

>>> from symopt import programs
>>> print(export_latex(programs.load("sgd"), name="SGD"))
\\begin{algorithm}
\\caption{SGD}
\\begin{algorithmic}[1]
\\Require weights $w$, gradient $g$, learning rate $\\mathit{lr}$
\\State $\\mathit{update} \\gets g \\cdot \\mathit{lr}$
\\State $w \\gets w - \\mathit{update}$
\\end{algorithmic}
\\end{algorithm}
"""

from __future__ import annotations

import re

from symopt.lang.dead_code import remove_dead
from symopt.lang.model import Program
from symopt.lang.printer import format_constant
from symopt.lang.registry import FUNCTIONS

_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "eta", "theta", "lambda", "mu",
          "nu", "rho", "sigma", "tau", "phi", "omega"}


def latex_name(name: str) -> str:
    """A variable name as LaTeX math: `m_hat` -> `m_{\\mathit{hat}}`, `t3` -> `t_{3}`.

    >>> latex_name("beta1"), latex_name("m_hat"), latex_name("update")
    ('\\\\beta_{1}', 'm_{\\\\mathit{hat}}', '\\\\mathit{update}')
    """
    parts = re.sub(r"[^0-9A-Za-z_]", "", name).split("_")
    head, subs = parts[0] or "x", [p for p in parts[1:] if p]
    m = re.fullmatch(r"([A-Za-z]+)([0-9]+)", head)
    if m:
        head, subs = m.group(1), [m.group(2)] + subs
    if head in _GREEK:
        head = "\\" + head
    elif len(head) > 1:
        head = f"\\mathit{{{head}}}"
    if subs:
        sub = ",".join(s if s.isdigit() else f"\\mathit{{{s}}}" for s in subs)
        head += f"_{{{sub}}}"
    return head


def latex_constant(value: float) -> str:
    """A constant as LaTeX: `0.9` -> `0.9`, `1e-08` -> `10^{-8}`, `3e-05` -> `3 \\cdot 10^{-5}`.

    >>> print(latex_constant(0.9), latex_constant(1e-08), latex_constant(3e-05), sep="; ")
    0.9; 10^{-8}; 3 \\cdot 10^{-5}
    """
    text = format_constant(value)
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    power = f"10^{{{int(exponent)}}}"
    return power if mantissa in ("1", "1.0") else f"{mantissa} \\cdot {power}"


def export_latex(program: Program, name: str = "Optimizer") -> str:
    """The live update of `program` as an `algorithm` block, one operation per line."""
    program = remove_dead(program)
    n = lambda a: latex_name(a) if isinstance(a, str) else latex_constant(a)
    roles = ["weights", "gradient"] + ["state"] * program.n_state
    req = [f"{r} ${latex_name(p)}$" for r, p in zip(roles, program.params, strict=False)]
    req.append(f"learning rate ${latex_name(program.lr_name)}$")
    if program.has_step:
        req.append("step $t$ (from 1)")
    caption = re.sub(r"([#$%&_{}\\])", r"\\\1", name)
    lines = ["\\begin{algorithm}", f"\\caption{{{caption}}}", "\\begin{algorithmic}[1]",
             "\\Require " + ", ".join(req)]
    for s in program.body:
        fn = FUNCTIONS[s.fn]
        expr = fn.latex.format(*[("t" if a == "step" and program.has_step else n(a))
                                 for a in s.args])
        lines.append(f"\\State ${latex_name(s.target)} \\gets {expr}$")
    w = latex_name(program.params[0])
    lines.append(f"\\State ${w} \\gets {w} - {latex_name(program.returns[0])}$")
    for slot, value in zip(program.state_names, program.returns[1:], strict=True):
        if slot != value:
            lines.append(f"\\State ${latex_name(slot)} \\gets {latex_name(value)}$")
    lines += ["\\end{algorithmic}", "\\end{algorithm}"]
    return "\n".join(lines)
