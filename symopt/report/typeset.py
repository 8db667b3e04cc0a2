"""A `Paper` typeset: Typst source and its PDF (the `typst` package, offline), or LaTeX.

`write_paper(paper, out_dir, fmt)` copies the figures beside the source and writes:
`pdf` (the default): `paper.typ` and `paper.pdf`; `typst`: `paper.typ`; `latex`:
`paper.tex`, whose program is the `algorithm` block of `symopt export --to latex`;
`all`: the three. The PDF uses the fonts the `typst` package carries (Libertinus Serif,
DejaVu Sans Mono), never the system's, so it looks the same on every machine.

>>> import tempfile, pathlib
>>> from symopt.report.paper import Paper, Section, Para
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> paper = Paper("A title", "An abstract.", [Section("Method", [Para("x = `a*b` [1].")])])
>>> sorted(p.name for p in write_paper(paper, out, "all"))
['paper.pdf', 'paper.tex', 'paper.typ']
>>> (out / "paper.pdf").read_bytes()[:5], page_png(out / "paper.typ", ppi=20)[:4]
(b'%PDF-', b'\\x89PNG')
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from symopt.compile.latex import export_latex
from symopt.errors import SymoptError, UserError
from symopt.report.bibliography import REFERENCES
from symopt.report.paper import Algorithm, Bullets, Code, Figure, Paper, Para, Table, split_code
from symopt.search.storage.store import write_atomic

FORMATS = ("pdf", "typst", "latex", "all")
_WRITES = {"pdf": ("typ", "pdf"), "typst": ("typ",), "latex": ("tex",),
           "all": ("typ", "pdf", "tex")}


def write_paper(paper: Paper, out_dir: str | Path, fmt: str = "pdf") -> list[Path]:
    """Write `paper` into `out_dir` in format `fmt` (see the module docstring); returns the
    paper files written (figures are copied too)."""
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt}: expected one of {', '.join(FORMATS)}")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"{out}: cannot create the output directory: {err.strerror}") from None
    for block in _blocks(paper, Figure):
        if block.path.resolve() != (out / block.path.name).resolve():
            shutil.copyfile(block.path, out / block.path.name)
    written = []
    if "typ" in _WRITES[fmt]:
        source = to_typst(paper)
        write_atomic(out / "paper.typ", source)
        written.append(out / "paper.typ")
        if "pdf" in _WRITES[fmt]:
            written.append(compile_pdf(out / "paper.typ", out / "paper.pdf"))
    if "tex" in _WRITES[fmt]:
        write_atomic(out / "paper.tex", to_latex(paper))
        written.append(out / "paper.tex")
    return written


def compile_pdf(source: Path, pdf: Path) -> Path:
    """Compile the Typst file `source` to `pdf` with the package's embedded fonts only."""
    import typst

    tmp = pdf.with_name(f".{pdf.name}.tmp")
    try:
        compiler = typst.Compiler(str(source), root=str(source.parent), ignore_system_fonts=True)
        compiler.compile(output=str(tmp), format="pdf")
    except typst.TypstError as err:  # the source is generated: an error here is a bug
        raise SymoptError(f"{source}: Typst could not compile the write-up: {err.message} "
                          f"{err.diagnostic}") from None
    tmp.replace(pdf)
    return pdf


def page_png(source: str | Path, page: int = 1, ppi: float = 100.0) -> bytes:
    """Page `page` (from 1) of the Typst file `source` as a PNG image, e.g. to look at a
    paper in a notebook or put a page of it in a README."""
    import typst

    source = Path(source)
    compiler = typst.Compiler(str(source), root=str(source.parent), ignore_system_fonts=True)
    out = compiler.compile(format="png", ppi=ppi)
    pages: list[bytes] = out if isinstance(out, list) else [out] if out else []
    if not 1 <= page <= len(pages):
        raise UserError(f"{source}: page {page} of a {len(pages)}-page paper")
    return pages[page - 1]


def _blocks(paper: Paper, kind: type) -> list:
    return [b for s in paper.sections for b in s.blocks if isinstance(b, kind)]


# -- Typst -----------------------------------------------------------------------------------
def _q(text: str) -> str:
    """A Typst string literal (JSON's escapes are Typst's, for non-ASCII kept as is)."""
    return json.dumps(text, ensure_ascii=False)


def _ts(text: str) -> str:
    """Plain text (with `code` spans) as Typst markup: strings, never markup syntax."""
    out = []
    for span, code in split_code(text):
        out.append(f"#raw({_q(span)})" if code else f"#{_q(span)}")
    return "".join(out)


_TYPST_HEAD = """#set document(title: {title})
#set page(paper: "a4", margin: (x: 2.2cm, y: 2.2cm), numbering: "1")
#set text(font: "Libertinus Serif", size: 10.5pt, hyphenate: false)
#set par(justify: false)
#set heading(numbering: "1.")
#show raw: set text(font: "DejaVu Sans Mono", size: 8.5pt)
#show figure.caption: set text(size: 9pt)
#align(center, text(size: 16pt, weight: "bold")[{title_markup}])
#align(center, text(size: 9pt)[#"Written by symopt writeup from the stored results, \
by fixed rules."])
#block(inset: (x: 1.5em, y: 0.5em))[*Abstract.* {abstract}]
"""


def to_typst(paper: Paper) -> str:
    """The Typst source of `paper`."""
    lines = [_TYPST_HEAD.format(title=_q(paper.title), title_markup=_ts(paper.title),
                                abstract=_ts(paper.abstract))]
    for section in paper.sections:
        lines.append(f"= {_ts(section.title)}\n")
        for b in section.blocks:
            lines.append(_typst_block(b) + "\n")
    if paper.references:
        lines.append("= References\n")
        lines += [f"+ {_ts(r.text())}" for r in REFERENCES]
    return "\n".join(lines) + "\n"


def _typst_block(b) -> str:
    if isinstance(b, Para):
        return _ts(b.text)
    if isinstance(b, Bullets):
        return "\n".join(f"- {_ts(item)}" for item in b.items)
    if isinstance(b, Table):
        cells = ", ".join(f"[*{_ts(h)}*]" for h in b.header)
        body = ",\n  ".join(", ".join(f"[{_ts(c)}]" for c in row) for row in b.rows)
        align = "(" + ", ".join("right" if _numeric([r[k] for r in b.rows]) else "left"
                                for k in range(len(b.header))) + ",)"
        head = f"table.header({cells}),\n  " if any(b.header) else ""
        return (f"#figure(table(columns: {len(b.header)}, align: {align}, stroke: 0.4pt,\n"
                f"  {head}{body}),\n  kind: table, "
                f"caption: [{_ts(b.caption)}])")
    if isinstance(b, Figure):
        return (f"#figure(image({_q(b.path.name)}, width: 88%), "
                f"caption: [{_ts(b.caption)}])")
    if isinstance(b, Code):
        return (f"#figure(align(left, block(fill: luma(245), inset: 8pt, radius: 2pt, "
                f"raw({_q(b.text.rstrip())}, lang: {_q(b.lang)}, block: true))), "
                f"kind: raw, supplement: [Listing], caption: [{_ts(b.caption)}])")
    if isinstance(b, Algorithm):
        rows = ", ".join(f"[{i}:], [{_ts('`' + line + '`')}]"
                         for i, line in enumerate(b.lines, 1))
        return (f"#figure(align(left, block(stroke: (y: 0.6pt), inset: 6pt, width: 100%)[\n"
                f"  {_ts(b.require)}\n  #grid(columns: 2, column-gutter: 8pt, row-gutter: 5pt, "
                f"{rows})]), kind: \"algorithm\", supplement: [Algorithm], "
                f"caption: [{_ts(b.caption)}])")
    raise TypeError(f"unknown block {b!r}")


def _numeric(cells: list[str]) -> bool:
    return bool(cells) and all(_NUMBER.fullmatch(c.strip("`")) for c in cells)


_NUMBER = re.compile(r"-|never|inf|[-+]?[\d,]*\.?\d+(e[-+]?\d+)?%?")


# -- LaTeX -----------------------------------------------------------------------------------
_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
                  "#": r"\#", "^": r"\^{}", "_": r"\_", "%": r"\%", "~": r"\~{}",
                  "×": r"$\times$", "←": r"$\gets$", "−": "-", "≥": r"$\geq$",
                  "≤": r"$\leq$", "ρ": r"$\rho$", "–": "--", "—": "---", "≈": r"$\approx$",
                  "…": r"\ldots{}"}


def _tex_plain(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(c, c) for c in text)


def _tx(text: str) -> str:
    return "".join(f"\\texttt{{{_tex_plain(s)}}}" if code else _tex_plain(s)
                   for s, code in split_code(text))


def to_latex(paper: Paper) -> str:
    """The LaTeX source of `paper` (article class; algorithm, algpseudocode, graphicx)."""
    out = [r"\documentclass[10pt]{article}", r"\usepackage[margin=2.2cm]{geometry}",
           r"\usepackage{graphicx}", r"\usepackage{algorithm}", r"\usepackage{algpseudocode}",
           r"\usepackage{amsmath}", r"\usepackage[T1]{fontenc}",
           f"\\title{{{_tx(paper.title)}}}", r"\date{}", r"\begin{document}", r"\maketitle",
           r"\begin{abstract}", _tx(paper.abstract), r"\end{abstract}", ""]
    for section in paper.sections:
        out.append(f"\\section{{{_tx(section.title)}}}")
        for b in section.blocks:
            out += [_latex_block(b), ""]
    if paper.references:
        out.append(r"\begin{thebibliography}{9}")
        out += [f"\\bibitem{{{r.key}}} {_tx(r.text())}" for r in REFERENCES]
        out.append(r"\end{thebibliography}")
    out.append(r"\end{document}")
    return "\n".join(out) + "\n"


def _latex_block(b) -> str:
    if isinstance(b, Para):
        return _tx(b.text)
    if isinstance(b, Bullets):
        return "\n".join([r"\begin{itemize}"] + [f"\\item {_tx(i)}" for i in b.items]
                         + [r"\end{itemize}"])
    if isinstance(b, Table):
        head = ([" & ".join(f"\\textbf{{{_tx(h)}}}" for h in b.header) + r" \\", r"\hline"]
                if any(b.header) else [])
        rows = [" & ".join(_tx(c) for c in row) + r" \\" for row in b.rows]
        return "\n".join([r"\begin{table}[ht]", r"\centering", f"\\caption{{{_tx(b.caption)}}}",
                          f"\\begin{{tabular}}{{l{'r' * (len(b.header) - 1)}}}", r"\hline",
                          *head, *rows, r"\hline", r"\end{tabular}", r"\end{table}"])
    if isinstance(b, Figure):
        return "\n".join([r"\begin{figure}[ht]", r"\centering",
                          f"\\includegraphics[width=0.88\\linewidth]{{{b.path.name}}}",
                          f"\\caption{{{_tx(b.caption)}}}", r"\end{figure}"])
    if isinstance(b, Code):
        return "\n".join([_tx(b.caption), r"\begin{verbatim}", b.text.rstrip(),
                          r"\end{verbatim}"])
    if isinstance(b, Algorithm):
        return export_latex(b.program, name=b.caption)
    raise TypeError(f"unknown block {b!r}")
