"""`symopt writeup`: the numbers of the paper's abstract and results (read back from the
PDF with pypdf) are those of run.sqlite / summary.csv, negative results are said so, the
figures are real images, the pages are the expected ones, LaTeX carries the export's
algorithm block."""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
import sqlite3
import statistics
import subprocess

import pytest
from conftest import copy_run
from pypdf import PdfReader

from symopt.cli import main
from symopt.compile.latex import export_latex
from symopt.lang import parse
from symopt.lang.dead_code import remove_dead, state_values
from symopt.report.sweep import plan_sweep, run_sweep
from symopt.report.writeup import write_writeup
from symopt.search import SearchConfig, run_search
from symopt.search.evolution.loop import statement_count_fitness

NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?%?")
SECTIONS = ["Method", "Experimental setup", "Results", "The discovered program", "Transfer",
            "Limitations", "Conclusion", "References"]


@pytest.fixture(scope="module")
def run(tiny_run, tmp_path_factory):
    """A real search (quadratic, 4 training runs: `TINY_RUN`) and its paper in every format."""
    d = copy_run(tiny_run, tmp_path_factory.mktemp("run") / "run")
    write_writeup(d, d / "paper", "all")
    return d


def sql(path, query):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute(query).fetchall()
    finally:
        db.close()


def pdf_text(pdf) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(pdf).pages)
    return re.sub(r"\s+", " ", text)


def between(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0]


def printed_equals(token: str, value: float) -> bool:
    """Whether `token` (as printed: `0.4138`, `42.9%`, `1,234`) is `value` to its precision."""
    t = token.rstrip("%").replace(",", "")
    decimals = len(t.split(".")[1].split("e")[0]) if "." in t else 0
    if "e" in t:
        mant = float(t.split("e")[0])
        return math.isclose(mant * 10 ** int(t.split("e")[1]), value,
                            rel_tol=0.51 * 10 ** -decimals / max(abs(mant), 1e-300))
    return abs(float(t) - value) <= 0.5 * 10 ** -decimals * (1 + 1e-9)


def numbers(text: str) -> list[str]:
    text = re.sub(r"\[\d\]", "", text)  # citation marks
    return NUMBER.findall(text)


def run_values(d) -> dict[str, float]:
    """The headline numbers, straight from run.sqlite with SQL."""
    db = d / "run.sqlite"
    n, hits, red = sql(db, "SELECT COUNT(*), SUM(cache_hit), AVG(redundant_fraction) "
                           "FROM candidates")[0]
    seed = sql(db, "SELECT MIN(fitness) FROM candidates WHERE operator='seed'")[0][0]
    best_id, best, text = sql(db, "SELECT id, fitness, program_text FROM candidates WHERE "
                                  "fitness IS NOT NULL ORDER BY fitness, id LIMIT 1")[0]
    seed_text = sql(db, "SELECT program_text FROM candidates WHERE operator='seed'")[0][0]
    config = json.loads(sql(db, "SELECT value FROM meta WHERE key='config'")[0][0])
    return {"candidates": n, "runs": n - hits, "hit_pct": 100 * hits / n,
            "redundant_pct": 100 * red, "seed": seed, "best": best, "ratio": best / seed,
            "best_id": best_id, "functions": len(config["mutation"]["functions"]),
            "best_memory": state_values(parse(text)), "seed_memory": state_values(
                parse(seed_text)), "budget": config["search"]["budget"]}


def test_every_number_of_the_abstract_is_the_stores(run):
    v = run_values(run)
    text = pdf_text(run / "paper" / "paper.pdf")
    abstract = between(text, "Abstract.", "1. Method")
    assert v["best"] < v["seed"]  # this search beats its seed (a fixed search seed)
    tokens = numbers(abstract)
    assert tokens, abstract
    for token in tokens:
        assert any(printed_equals(token, x) for x in v.values()), (token, abstract)
    for key, phrase in (("best", r"validation loss of (\S+) against"),
                        ("seed", r"against (\S+) for AdamW"),
                        ("ratio", r"\((\S+) times the seed's\)"),
                        ("runs", r"trained (\S+) candidate optimizers"),
                        ("candidates", r"\((\S+) candidates generated"),
                        ("hit_pct", r"generated, (\S+) of them")):
        assert printed_equals(re.search(phrase, abstract).group(1), v[key]), key


def test_every_number_of_the_results_is_the_stores(run):
    v = run_values(run)
    text = pdf_text(run / "paper" / "paper.pdf")
    results = between(text, "3. Results", "4. The discovered program")
    for label, key in (("seed fitness", "seed"), ("best fitness", "best"),
                       ("best / seed", "ratio"), ("training runs done", "runs"),
                       ("candidates generated", "candidates"), ("cache-hit rate", "hit_pct"),
                       ("redundant-statement fraction", "redundant_pct")):
        token = re.search(re.escape(label) + r" (\S+)", results).group(1)
        assert printed_equals(token, v[key]), (label, token, v[key])
    db = run / "run.sqlite"
    fitness = [f for (f,) in sql(db, "SELECT fitness FROM candidates WHERE fitness IS NOT NULL")]
    ops = sql(db, """SELECT c.operator, COUNT(*), SUM(1 - c.cache_hit),
                     SUM(COALESCE(c.fitness, 1e308) < COALESCE(p.fitness, 1e308))
                     FROM candidates c LEFT JOIN candidates p ON p.id = c.parent_id
                     WHERE c.operator != 'seed' GROUP BY c.operator""")
    for op, children, trained, better in ops:
        row = re.search(re.escape(op) + r" (\S+) (\d+) (\d+) (\d+) (\S+)%", results)
        assert row, (op, results)
        assert [int(row.group(k)) for k in (2, 3, 4)] == [children, trained, better]
        assert printed_equals(row.group(5), 100 * better / children)
    # every decimal printed in the results is a stored fitness, a ratio to the seed's, a
    # percentage of the headline table or an operator's weight or success
    allowed = fitness + [f / v["seed"] for f in fitness] + [v["hit_pct"], v["redundant_pct"]]
    allowed += [100 * b / c for _, c, _, b in ops] + [0.5, 1.0]
    # the report's compute and operator sections: stored weights and shares of the steps
    allowed += [w for (w,) in sql(db, "SELECT weight FROM operators")]
    allowed += [100 * k / c for c, k in sql(db, "SELECT children, successes FROM operators")
                if c]
    classes = sql(db, """SELECT CASE WHEN status IN ('diverged', 'hurdle') THEN status
                         WHEN status = 'ok' THEN 'finished' ELSE 'other' END,
                         SUM(steps - probe_steps), SUM(probe_steps) FROM candidates
                         GROUP BY 1""")
    total = sum(s + q for _, s, q in classes)
    allowed += [100 * s / total for _, s, _ in classes] + [
        100 * sum(q for _, _, q in classes) / total]
    invalid = re.search(r"invalid-child rate (\S+)%", results).group(1)
    allowed.append(float(invalid))  # from the sessions' records: checked in test_report_run
    for token in numbers(results):
        if "." in token:
            assert any(printed_equals(token, x) for x in allowed), token


def test_paper_has_its_sections_in_order_and_the_expected_pages(run):
    reader = PdfReader(run / "paper" / "paper.pdf")
    pages = [re.sub(r"\s+", " ", p.extract_text()) for p in reader.pages]
    assert 4 <= len(pages) <= 8
    # this search's best (a fixed search seed) changed a constant of AdamW, nothing else
    assert pages[0].startswith("Retuned AdamW constants found by evolution on quadratic")
    assert "Abstract." in pages[0] and "1. Method" in pages[0]
    text = " ".join(pages)
    where = [text.index(f"{k}. {name}") for k, name in enumerate(SECTIONS, 1)]
    assert where == sorted(where)
    refs = text.split("8. References", 1)[1]
    for title in ("Symbolic Discovery of Optimization Algorithms", "Decoupled Weight Decay",
                  "Regularized Evolution", "AutoML-Zero", "Population Based Training"):
        assert title in refs
    assert "Population Based Training" in pages[-1]
    assert [str(i) for i in range(1, len(pages) + 1)] == [p.split()[-1] for p in pages]


def test_figures_are_real_images_beside_the_source(run):
    import matplotlib.image

    out = run / "paper"
    source = (out / "paper.typ").read_text()
    names = re.findall(r'image\("([^"]+)"', source)
    assert set(names) == {"report_fitness.png", "report_cache.png", "report_curves.png",
                          "report_operators.png"}
    for name in names:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        h, w, _ = matplotlib.image.imread(out / name).shape
        assert h > 100 and w > 100
    images = sum(len(page.images) for page in PdfReader(out / "paper.pdf").pages)
    assert images == len(names)
    assert set(re.findall(r"includegraphics\[[^]]*\]\{([^}]+)\}",
                          (out / "paper.tex").read_text())) == set(names)


def test_latex_holds_the_exports_algorithm_block(run, tmp_path):
    v = run_values(run)
    text = sql(run / "run.sqlite", f"SELECT program_text FROM candidates WHERE "
                                   f"id={v['best_id']}")[0][0]
    tex = (run / "paper" / "paper.tex").read_text()
    block = export_latex(remove_dead(parse(text)), name=f"Candidate {v['best_id']} "
                                                         f"(live statements)")
    assert block in tex


def test_latex_paper_compiles_where_pdflatex_is_installed(run, tmp_path):
    """Only the compile needs a LaTeX engine (not a dependency: the PDF is Typst's); what
    paper.tex holds is checked above on every machine."""
    engine = shutil.which("pdflatex")
    if engine is None:
        pytest.skip("pdflatex is not installed here (paper.tex is checked by the test above)")
    shutil.copytree(run / "paper", tmp_path / "tex")  # the Typst paper.pdf stays as it is
    r = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", "paper.tex"],
                       cwd=tmp_path / "tex", capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-2000:]
    assert "Candidate" in pdf_text(tmp_path / "tex" / "paper.pdf")


def test_a_run_whose_best_is_the_seed_says_so(tmp_path, capsys):
    d = tmp_path / "r"
    cfg = SearchConfig.from_dict({"search": {"population": 2, "budget": 1}})
    run_search(cfg, d, seeds=["adamw"], evaluate_fn=statement_count_fitness)
    assert main(["writeup", str(d), "--no-curves", "-o", str(tmp_path / "p")]) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / "p" / "paper.typ"),
                                               str(tmp_path / "p" / "paper.pdf")]
    text = pdf_text(tmp_path / "p" / "paper.pdf")
    title, abstract = text.split("Written by")[0], between(text, "Abstract.", "1. Method")
    assert "AdamW was not beaten" in title
    seed = sql(d / "run.sqlite", "SELECT fitness FROM candidates WHERE operator='seed'")[0][0]
    assert f"No candidate beat AdamW: its validation loss of {seed:.4g} stayed the best" \
        in abstract
    assert "This is AdamW itself." in text


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    plan = plan_sweep({"search": {"population": 3, "budget": 4},
                       "cache": {"fingerprint": False}}, ["search.tournament=1,3"],
                      seeds=2, programs=["adamw"])
    run_sweep(plan, out, progress="none", evaluate_fn=statement_count_fitness)
    assert main(["writeup", str(out), "--format", "pdf"]) == 0
    return out


def test_a_sweep_without_significant_difference_says_so(sweep):
    from scipy.stats import mannwhitneyu

    with open(sweep / "summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    best: dict[int, list[float]] = {}
    for r in rows:
        best.setdefault(int(r["run"]), []).append(float(r["best_fitness"]))
    text = pdf_text(sweep / "paper" / "paper.pdf")
    abstract = between(text, "Abstract.", "1. Method")
    assert text.startswith("No significant effect of search.tournament")
    p = min(mannwhitneyu(best[k], best[0], alternative="two-sided").pvalue
            for k in best if k)
    got = re.search(r"smallest p = (\S+), not below 0.05", abstract).group(1)
    assert printed_equals(got, p)
    means = {k: statistics.fmean(v) for k, v in best.items()}
    k = min(means, key=lambda i: (means[i], i))
    m = re.search(r"lowest mean best fitness was (\S+) \(Run (\d+),", abstract)
    assert printed_equals(m.group(1), means[k]) and int(m.group(2)) == k
    base = re.search(r"against (\S+) for the baseline", abstract).group(1)
    assert printed_equals(base, means[0])
    assert "6 of 6 runs finished, 4 training runs per run" in abstract
    results = between(text, "Results", "The best program of the sweep")
    for r in rows:  # each run's row of the results table
        assert f"{r['run']} {r['seed']} {r['training_runs']} " \
               f"{float(r['best_fitness']):.4g} {float(r['seed_fitness']):.4g}" in results


def test_report_and_sweep_print_the_writeup_command(run, sweep, capsys):
    assert main(["report", str(run), "--no-curves"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"write it up: symopt writeup {run}"
    assert main(["report", str(sweep)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"write it up: symopt writeup {sweep}"


def test_bad_input_is_a_clear_error(tmp_path, capsys):
    assert main(["writeup", str(tmp_path / "nope")]) == 2
    assert "no such run or sweep directory" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["writeup", str(tmp_path / "empty")]) == 2
    assert "nothing to write up" in capsys.readouterr().err


def test_funnel_results_and_a_better_tuning_are_written_up(run, tmp_path):
    from symopt.search.storage.store import FunnelRecord, RunStore

    d = tmp_path / "run"
    shutil.copytree(run, d, ignore=shutil.ignore_patterns("paper"))
    v = run_values(d)
    store = RunStore.open(d)
    store.add_funnel(FunnelRecord(1, "rosenbrock", "{}", "h0", None, True, fitness=2.5,
                                  seed_fitness=2.5))
    store.add_funnel(FunnelRecord(1, "rosenbrock", "{}", "h1", v["best_id"], False,
                                  fitness=2.75, seed_fitness=2.5, passed=False))
    store.close()
    db = sqlite3.connect(d / "run.sqlite")  # as a store written before environments were kept
    with db:
        db.execute("DELETE FROM meta WHERE key='environment'")
    db.close()
    (d / "trials.csv").write_text(f"trial,fitness\n0,{v['best'] / 2!r}\n")
    write_writeup(d, fmt="pdf", curves=False)
    text = pdf_text(d / "paper" / "paper.pdf")
    abstract = between(text, "Abstract.", "1. Method")
    assert "On rosenbrock (funnel stage 1) it reached 2.75 against the seed's 2.5 (not " \
           "passed)." in abstract
    assert "not tested beyond the proxy task" not in abstract
    transfer = between(text, "5. Transfer", "6. Limitations")
    assert f"1 rosenbrock candidate {v['best_id']} 2.75 2.5 no" in transfer
    limits = between(text, "6. Limitations", "7. Conclusion")
    assert f"Tuning the constants alone did better ({v['best'] / 2:.4g} in trials.csv)" in limits
    assert "did not beat the seed at every funnel stage" in limits
    assert "machine not recorded in this run's store" in text


def test_setup_is_the_environment_stored_with_the_run(run):
    import platform

    env = json.loads(sql(run / "run.sqlite",
                         "SELECT value FROM meta WHERE key='environment'")[0][0])
    assert env["platform"] == platform.platform() and env["backend"] == "cpu"
    text = pdf_text(run / "paper" / "paper.pdf")
    setup = between(text, "2. Experimental setup", "3. Results")
    assert f"machine {env['platform']}, {env['cpus']} CPU cores" in setup
    assert f"jax {env['versions']['jax']}" in setup
    query = "SELECT SUM(1 - cache_hit), SUM(steps) FROM candidates"
    runs, steps = sql(run / "run.sqlite", query)[0]
    assert f"compute spent {runs} training runs, {steps:,} training steps" in setup


def test_a_constants_only_gain_is_called_retuned(tmp_path):
    """method = "constants" keeps the seed's structure: the title and limitations say so."""
    from symopt.search.execution.executor import EvalOutcome

    def longer_is_better(program_text, task_spec):  # perturbed constants print longer
        return EvalOutcome(1000.0 - len(program_text), "ok")

    d = tmp_path / "r"
    cfg = SearchConfig.from_dict({"search": {"population": 2, "budget": 4,
                                             "method": "constants"}})
    run_search(cfg, d, seeds=["adamw"], evaluate_fn=longer_is_better)
    write_writeup(d, fmt="typst", curves=False)
    source = (d / "paper" / "paper.typ").read_text()
    assert not (d / "paper" / "paper.pdf").exists()
    assert 'title: "Retuned AdamW constants found by evolution on quadratic"' in source
    assert "differs from AdamW only in its constants" in source
    assert "The gain is in the constants only" in source
