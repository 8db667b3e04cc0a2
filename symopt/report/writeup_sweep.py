"""The paper of a sweep: the grid of settings, the search seeds, the per-setting results
with their test statistics and the Discussion, each sentence made by a fixed rule from
the runs' stores and `summary.csv` (regenerated first, with the figures).

>>> import tempfile
>>> from symopt.report.sweep import plan_sweep, run_sweep
>>> from symopt.search.evolution.loop import statement_count_fitness
>>> plan = plan_sweep({"search": {"population": 4, "budget": 4}}, ["search.population=2"],
...                   seeds=2, programs=["sgd"])
>>> d = tempfile.mkdtemp()
>>> _ = run_sweep(plan, d, progress="none", evaluate_fn=statement_count_fitness)
>>> sweep_paper(d).title
'No significant effect of search.population on evolution from SGD on quadratic'
"""

from __future__ import annotations

from pathlib import Path

from symopt.errors import UserError
from symopt.report.discussion import ALPHA, Arm, compare_arms, discuss, seeds_needed, smallest_p
from symopt.report.paper import Bullets, Figure, Paper, Para, Section, Table
from symopt.report.sweep import SWEEP_FILE, SweepPlan
from symopt.report.sweep_report import SUMMARY_NAME, collect, write_sweep_report
from symopt.report.writeup_parts import (
    Compute,
    budget_limitation,
    compute_spent,
    method_section,
    program_blocks,
    seed_name,
    setup_table,
    show,
    task_limitations,
)


def sweep_paper(out: str | Path) -> Paper:
    """The paper of the sweep in `out` (notes, summary.csv and figures regenerated)."""
    out = Path(out)
    write_sweep_report(out)
    plan = SweepPlan.from_json((out / SWEEP_FILE).read_text(encoding="utf-8"),
                               str(out / SWEEP_FILE))
    results = collect(out, plan)
    fin = [r for r in results if r.finished and r.history]
    if not fin:
        raise UserError(f"{out}: no run of the sweep has finished yet: nothing to write up")
    arms = [Arm(s.index, s.label.removeprefix("baseline (").removesuffix(")"), s.values,
                [r.best for r in fin if r.setting.index == s.index])
            for s in plan.settings()]
    seed = seed_name(plan.programs[0][0]) if plan.programs else "the seed"
    task = plan.config.get("task", {}).get("name", "quadratic")
    keys = ", ".join(k for k, _ in plan.vary)
    vary = "; ".join(f"{k} over {', '.join(map(str, v))}" for k, v in plan.vary)
    live = [a for a in arms if a.best]
    comps = [compare_arms(a, live[0]) for a in live[1:]] if live and live[0].index == 0 else []
    sig = [c for c in comps if c.significant]

    if sig:
        better = [c for c in sig if c.diff < 0]
        c = min(better or sig, key=lambda c: c.p)
        verb = "improves" if c.diff < 0 else "worsens"
        title = f"{c.a.label} {verb} evolution from {seed} on {task}: a sweep of {keys}"
    else:
        title = f"No significant effect of {keys} on evolution from {seed} on {task}"

    abstract = [f"We ran evolution from {seed} on the {task} proxy task under "
                f"{len(arms)} settings ({vary}) with {plan.seeds} search seeds each "
                f"({len(fin)} of {len(results)} runs finished, {plan.budget} training runs "
                f"per run)."]
    if live:
        best = min(live, key=lambda a: (a.mean, a.index))
        abstract.append(f"The lowest mean best fitness was {show(best.mean)} (Run {best.index}, "
                        f"{best.label}), against {show(arms[0].mean)} for the baseline.")
    if comps and not sig:
        abstract.append(f"No setting's best fitness differed from the baseline's by more than "
                        f"the seed-to-seed noise (two-sided Mann–Whitney U, smallest "
                        f"p = {min(c.p for c in comps):.3g}, not below {ALPHA}).")
    elif sig:
        abstract.append("Significant at p < 0.05: " + "; ".join(
            f"Run {c.a.index} against the baseline ({'better' if c.diff < 0 else 'worse'}, "
            f"p = {c.p:.3g})" for c in sig) + ".")
    n_min = min((len(a.best) for a in live), default=0)
    if live and smallest_p(n_min, n_min) >= ALPHA:
        abstract.append(f"With {n_min} seeds per setting no p-value below {ALPHA} was "
                        f"possible.")

    first = fin[0].history if fin else None
    sections = []
    if first is not None:
        method = method_section(first, f"We measured how {keys} changes a search for an "
                                       f"optimizer on {task}, starting from {seed}.")
        method.blocks.append(Para(
            f"Sweep: Run 0 is the config as given, every other run changes {keys}; each "
            f"setting ran {plan.seeds} search seeds. Settings are compared with the baseline "
            f"by a two-sided Mann–Whitney U test on the per-seed best fitness and a bootstrap "
            f"95% interval of the difference of means; a trend with a numeric key by "
            f"Spearman's rank correlation; significance at p < {ALPHA}."))
        sections.append(method)
        spent = [compute_spent(r.started) for r in fin]
        compute = Compute(sum(c.training_runs for c in spent), sum(c.steps for c in spent),
                          sum(c.train_seconds for c in spent))
        sections.append(Section("Experimental setup", [setup_table(
            first, wall=sum(r.started.wall_seconds for r in fin),
            sessions=sum(len(r.started.sessions) for r in fin), compute=compute)]))
    sections.append(_results(out, arms, comps, fin))
    top = min(fin, key=lambda r: (r.best, r.setting.index, r.seed)) if fin else None
    rec = top.started.best if top is not None else None
    if top is not None and rec is not None:  # a finished run has candidates
        h = top.started
        seed_text = h.seeds[0][1] if h.seeds else ""
        label = f"Candidate {rec.id} of Run {top.setting.index}, seed {top.seed}"
        sections.append(Section("The best program of the sweep", [Para(
            f"The lowest best fitness of any run, {show(rec.fitness)}, came from Run "
            f"{top.setting.index} ({top.setting.label}), search seed {top.seed} "
            f"(`{top.path.parent.name}/{top.path.name}`).")] + program_blocks(
            rec.program_text, seed_text, seed, label)))
    items = []
    if live and smallest_p(n_min, n_min) >= ALPHA:
        items.append(f"{n_min} search seeds per setting cannot give p < {ALPHA}; run at least "
                     f"{seeds_needed()} (`--seeds {seeds_needed()}`).")
    if comps and not sig:
        items.append(f"No significant difference at p < {ALPHA}: the settings may differ by "
                     f"less than this sweep can resolve.")
    if len(fin) < len(results):
        items.append(f"Only {len(fin)} of {len(results)} runs finished.")
    items += task_limitations(plan.config)
    budget = budget_limitation(plan.budget)
    if budget:
        items.append(budget)
    sections.append(Section("Limitations", [Bullets(items)] if items else [Para("None stated "
                                                                                "by the rules.")]))
    concl = (f"Within this sweep, {', '.join(f'Run {c.a.index}' for c in sig)} differed "
             f"significantly from the baseline." if sig else
             f"Within this sweep, no setting of {keys} changed the best fitness reached by more "
             f"than the seed-to-seed noise.")
    sections.append(Section("Conclusion", [Para(concl)]))
    return Paper(title, " ".join(abstract), sections)


def _results(out: Path, arms: list[Arm], comps: list, fin: list) -> Section:
    by_arm = {c.a.index: c for c in comps}
    rows = []
    for a in arms:
        c = by_arm.get(a.index)
        rows.append([str(a.index), a.label, str(len(a.best)), show(a.mean),
                     ", ".join(show(x) for x in a.best) or "-",
                     "-" if c is None else f"{c.u:g}", "-" if c is None else f"{c.p:.3g}"])
    blocks: list = [Table(["run", "setting", "seeds", "mean best", "best per seed", "U", "p"],
                          rows, "Best fitness per setting; U and p: two-sided Mann–Whitney U "
                                "against Run 0.")]
    runs = [[str(r.setting.index), str(r.seed), str(r.started.training_runs), show(r.best),
             show(r.started.seed_fitness), "never" if r.started.runs_to_beat_seed is None
             else str(r.started.runs_to_beat_seed)] for r in fin]
    blocks.append(Table(["run", "seed", "training runs", "best fitness", "seed fitness",
                         "runs to beat seed"], runs,
                        f"Every finished run (`{SUMMARY_NAME}`)."))
    for name, caption in (("sweep_best.png", "Best fitness per setting: each seed a grey "
                           "point, the mean with the range over seeds in red."),
                          ("sweep_curves.png", "Best fitness so far against training runs.")):
        if (out / name).is_file() and fin:
            blocks.append(Figure(out / name, caption))
    blocks.append(Para("Discussion (generated from the finished runs by the rules of "
                       "`symopt.report.discussion`; lower fitness is better):"))
    for para in discuss(arms).split("\n\n"):
        if para.startswith("- "):
            blocks.append(Bullets([line[2:] for line in para.splitlines()]))
        else:
            blocks.append(Para(para))
    return Section("Results", blocks)
