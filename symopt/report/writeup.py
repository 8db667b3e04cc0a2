"""`write_writeup(dir)`: a short paper of a search run or a sweep, every sentence made
from the stored data by a fixed rule (no language model, nothing invented).

For a run (`run.sqlite`): a title that names what was found (or says the seed was not
beaten), an abstract with the headline numbers, the method, the setup, the results (the
report's tables and figures), the discovered program as an algorithm block, the funnel's
transfer results, limitations stated by rule, a conclusion and references. A sweep
(`sweep.json`) gets the same shape from `symopt.report.writeup_sweep`. The figures are
regenerated first (`symopt report`), then the paper is typeset (`symopt.report.typeset`).

>>> import tempfile
>>> from symopt.search import SearchConfig, run_search
>>> from symopt.search.evolution.loop import statement_count_fitness
>>> d = tempfile.mkdtemp()
>>> cfg = SearchConfig.from_dict({"search": {"population": 2, "budget": 1}})
>>> _ = run_search(cfg, d, seeds=["sgd"], evaluate_fn=statement_count_fitness)
>>> run_paper(d, curves=False).title
'SGD was not beaten: 1 training run of evolution from SGD on quadratic found nothing better'
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from symopt.errors import UserError
from symopt.lang import parse
from symopt.lang.dead_code import state_values
from symopt.report.bibliography import cite
from symopt.report.history import RunHistory
from symopt.report.paper import Bullets, Figure, Paper, Para, Section, Table
from symopt.report.typeset import write_paper
from symopt.report.writeup_parts import (
    budget_limitation,
    compute_spent,
    constants_only,
    method_section,
    operator_weights,
    program_blocks,
    ratio,
    seed_name,
    setup_table,
    show,
    slots_word,
    state_words,
    task_limitations,
)
from symopt.search.config.sections import DEFAULT_FUNCTIONS
from symopt.search.storage.schema import CandidateRecord
from symopt.search.storage.store import STORE_NAME, RunStore

PAPER_DIR = "paper"


def write_writeup(path: str | Path, out: str | Path | None = None, fmt: str = "pdf", *,
                  curves: bool = True) -> list[Path]:
    """Write the paper of the run or sweep in `path` into `out` (default `path/paper`);
    returns the files written (`fmt`: pdf, typst, latex or all)."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{path}: no such run or sweep directory")
    from symopt.report.sweep import SWEEP_FILE

    if (path / STORE_NAME).is_file():
        paper = run_paper(path, curves=curves)
    elif (path / SWEEP_FILE).is_file():
        from symopt.report.writeup_sweep import sweep_paper

        paper = sweep_paper(path)
    else:
        raise UserError(f"{path}: nothing to write up (no {STORE_NAME} or {SWEEP_FILE})")
    return write_paper(paper, Path(out) if out else path / PAPER_DIR, fmt)


def run_paper(run_dir: str | Path, *, curves: bool = True) -> Paper:
    """The paper of one search run (its figures are regenerated in `run_dir`)."""
    from symopt.report.run_report import write_run_report

    run_dir = Path(run_dir)
    write_run_report(run_dir, curves=curves)
    h = RunHistory.load(run_dir)
    return _RunPaper(h, curves).paper()


class _RunPaper:
    def __init__(self, h: RunHistory, curves: bool):
        self.h, self.curves = h, curves
        self.seed_path, self.seed_text = h.seeds[0] if h.seeds else ("seed", "")
        self.seed = seed_name(self.seed_path)
        self.task = h.config.get("task", {}).get("name")
        store = RunStore.open(h.run_dir)
        try:
            self.funnel = store.funnel_records()
            funnel_meta = store.meta("funnel")
            self.top = store.best(5)
        finally:
            store.close()
        self.found = self._found(json.loads(funnel_meta) if funnel_meta else None)
        self.beaten = self.found is not None and self.found.operator != "seed" and \
            self.found.fitness < h.seed_fitness
        self.retuned = (self.found is not None and self.beaten
                        and constants_only(self.seed_text, self.found.program_text))

    @property
    def winner(self) -> CandidateRecord:
        """`found`, where `beaten` says there is a program found."""
        if self.found is None:
            raise RuntimeError("the run found no program")
        return self.found

    def _found(self, funnel_meta: dict | None) -> CandidateRecord | None:
        """The program the run gives: the funnel's pick when a funnel ran, else the best."""
        if funnel_meta is None:
            return self.h.best
        pick = funnel_meta.get("best_candidate")
        by_id = {r.id: r for r in self.h.candidates}
        if pick is not None:
            return by_id.get(pick)
        return self.h.seed_records[0] if self.h.seed_records else None

    # -- title and abstract ----------------------------------------------------------------
    def title(self) -> str:
        h, seed = self.h, self.seed
        runs = f"{h.training_runs} training run{'s' if h.training_runs != 1 else ''}"
        if not self.beaten:
            where = " or in the funnel" if self.funnel else ""
            return (f"{seed} was not beaten: {runs} of evolution from {seed} on {self.task}"
                    f"{where} found nothing better")
        if self.retuned:
            return f"Retuned {seed} constants found by evolution on {self.task}"
        program = parse(self.winner.program_text)
        from symopt.analysis.hints import sign_like

        kind = "sign-based, " if sign_like(program) else ""
        return (f"A {kind}{slots_word(state_values(program))} update found from {seed} on "
                f"{self.task}")

    def abstract(self) -> str:
        h, seed = self.h, self.seed
        n_fn = len(h.config.get("mutation", {}).get("functions", DEFAULT_FUNCTIONS))
        out = [f"Starting from {seed}, a symbolic search over update programs built from "
               f"{n_fn} library functions trained {h.training_runs} candidate optimizers on "
               f"the {self.task} proxy task ({len(h.candidates)} candidates generated, "
               f"{100 * h.cache_hit_rate:.1f}% of them answered by the equivalence cache)."]
        if not self.beaten:
            out.append(f"No candidate beat {seed}: its validation loss of "
                       f"{show(h.seed_fitness)} stayed the best"
                       + (" after the funnel." if self.funnel else " of the run."))
            if self.funnel and h.best_fitness < h.seed_fitness:
                out.append(f"On the proxy task the best candidate reached "
                           f"{show(h.best_fitness)}, but none passed every funnel stage.")
        else:
            f = self.winner
            out.append(f"The program found reached a validation loss of {show(f.fitness)} "
                       f"against {show(h.seed_fitness)} for {seed} "
                       f"({show(ratio(f.fitness, h.seed_fitness), '.4f')} times the seed's).")
            program = parse(f.program_text)
            out.append(f"It keeps {state_words(state_values(program))} per parameter "
                       f"({state_values(parse(self.seed_text))} for {seed})"
                       + (f" and differs from {seed} only in its constants." if self.retuned
                          else "."))
        for r in self.funnel:
            if not r.is_seed and self.found is not None and r.candidate_id == self.found.id:
                out.append(f"On {r.task} (funnel stage {r.stage}) it reached {show(r.fitness)} "
                           f"against the seed's {show(r.seed_fitness)}"
                           f" ({'passed' if r.passed else 'not passed'}).")
        if not self.funnel:
            out.append("It was not tested beyond the proxy task.")
        return " ".join(out)

    # -- sections --------------------------------------------------------------------------
    def paper(self) -> Paper:
        h = self.h
        compute = compute_spent(h)
        sections = [method_section(h, f"We searched for an optimizer for the {self.task} "
                                      f"proxy task, starting from {self.seed} "
                                      f"{cite('adamw') if self.seed == 'AdamW' else ''}."
                                      .replace(" .", ".")),
                    Section("Experimental setup", [setup_table(
                        h, wall=h.wall_seconds, sessions=len(h.sessions), compute=compute)]),
                    self.results(), self.program_section(), self.funnel_section(),
                    self.limitations(compute.training_runs), self.conclusion()]
        return Paper(self.title(), self.abstract(), sections)

    def results(self) -> Section:
        h = self.h
        beat = h.runs_to_beat_seed
        rows = [["seed fitness", show(h.seed_fitness)], ["best fitness", show(h.best_fitness)],
                ["best / seed", show(ratio(h.best_fitness, h.seed_fitness), ".4f")],
                ["training runs done", str(h.training_runs)],
                ["candidates generated", str(len(h.candidates))],
                ["cache-hit rate", f"{100 * h.cache_hit_rate:.1f}%"],
                ["redundant-statement fraction", f"{100 * h.redundant_fraction:.1f}%"],
                ["invalid-child rate", f"{100 * h.invalid_rate:.1f}%"],
                ["training runs to beat the seed", "never" if beat is None else str(beat)],
                ["how the run ended", h.ended]]
        blocks: list = [Table(["quantity", "value"], rows,
                              "Headline numbers, read from the run's store.")]
        d = h.run_dir
        blocks.append(Figure(d / "report_fitness.png", "Best and population-median fitness "
                             "against training runs; the dashed line is the seed's fitness."))
        blocks.append(Figure(d / "report_cache.png", "Cumulative cache-hit rate and mean "
                             "fraction of redundant statements."))
        if self.curves and (d / "report_curves.png").is_file():
            blocks.append(Figure(d / "report_curves.png", "Validation curves of the best "
                                 "program and the seed on the proxy task."))
        top = [[str(i), str(r.id), show(r.fitness), show(ratio(r.fitness, h.seed_fitness), ".4f"),
                f"`{r.operator}`", str(r.live_statements)]
               for i, r in enumerate(self.top, 1)]
        blocks.append(Table(["rank", "candidate", "fitness", "× seed", "made by", "live stmts"],
                            top, "The best distinct programs of the run."))
        weights = operator_weights(h)
        ops = [[f"`{o.operator}`", f"{weights.get(o.operator, 0):g}", str(o.children),
                str(o.trained), str(o.better_than_parent), f"{100 * o.success_rate:.1f}%"]
               for o in h.operators()]
        if ops:
            blocks.append(Table(["operator", "weight", "children", "trained",
                                 "better than parent", "success"], ops,
                                "Mutation operators: how often each made a child that beat "
                                "its parent."))
            blocks.append(Figure(d / "report_operators.png",
                                 "Success of each mutation operator."))
        return Section("Results", blocks)

    def program_section(self) -> Section:
        if self.found is None:
            return Section("The discovered program", [Para("No candidate has a finite "
                                                            "fitness.")])
        label = (f"Candidate {self.found.id}" if self.beaten else f"{self.seed}, the seed")
        intro = (Para(f"The program the run gives (`best.prog`) is candidate {self.found.id}, "
                      f"made by `{self.found.operator}`.") if self.beaten else
                 Para(f"Nothing beat the seed, so the run's program is {self.seed} itself."))
        return Section("The discovered program", [intro] + program_blocks(
            self.found.program_text, self.seed_text, self.seed, label))

    def funnel_section(self) -> Section:
        if not self.funnel:
            return Section("Transfer", [Para("No funnel stage was run: the program was not "
                                             "evaluated on any task but the proxy task.")])
        rows = [[str(r.stage), r.task, "seed" if r.is_seed else f"candidate {r.candidate_id}",
                 show(r.fitness), show(r.seed_fitness) if r.seed_fitness is not None else "-",
                 "-" if r.passed is None else ("yes" if r.passed else "no")]
                for r in self.funnel]
        return Section("Transfer", [Table(["stage", "task", "program", "fitness",
                                           "seed fitness", "passed"], rows,
                                          "The funnel: the best candidates re-trained on "
                                          "larger tasks against the seed.")])

    def limitations(self, trained: int) -> Section:
        h, items = self.h, []
        if not self.beaten:
            items.append(f"No candidate beat {self.seed} within the budget: this is a negative "
                         f"result for this search space, budget and task.")
        if self.retuned:
            items.append(f"The gain is in the constants only: a tuning of {self.seed}'s "
                         f"hyperparameters (e.g. `symopt tune`, random search or PBT "
                         f"{cite('pbt')}) may match it; this run did not run one.")
        trials = _best_trial(h.run_dir)
        if trials is not None and self.found is not None and trials < self.found.fitness:
            items.append(f"Tuning the constants alone did better ({show(trials)} in "
                         f"`trials.csv`) than the search's program ({show(self.found.fitness)}).")
        if self.funnel and any(r.passed is False for r in self.funnel
                               if self.found and r.candidate_id == self.found.id):
            items.append("The program did not beat the seed at every funnel stage.")
        if not self.funnel:
            items.append("The program was judged on the proxy task only; whether it transfers "
                         "to larger models is untested.")
        items += task_limitations(h.config)
        if h.ended != "budget reached":
            items.append(f"The run did not spend its budget: {h.ended}.")
        items.append("One search seed: another random seed of the search may find another "
                     "program (`symopt sweep --seeds` measures that).")
        budget = budget_limitation(trained)
        if budget:
            items.append(budget)
        return Section("Limitations", [Bullets(items)])

    def conclusion(self) -> Section:
        h = self.h
        if self.beaten:
            times = show(ratio(self.winner.fitness, h.seed_fitness), ".4f")
            text = (f"Evolution from {self.seed} on {self.task} found a program with {times} "
                    f"times the seed's validation loss after {h.training_runs} training runs"
                    + (", by changing constants only." if self.retuned else
                       ", with a structure of its own."))
        else:
            text = (f"Within {h.training_runs} training runs, evolution from {self.seed} on "
                    f"{self.task} found no better optimizer.")
        nxt = ("Next: `symopt funnel` to test transfer to larger tasks, and `symopt sweep` "
               "to measure the spread over search seeds." if not self.funnel else
               "Next: `symopt sweep` to measure the spread over search seeds.")
        return Section("Conclusion", [Para(text + " " + nxt)])


def _best_trial(run_dir: Path) -> float | None:
    """The best objective of `trials.csv` in the run directory, if any."""
    import pandas as pd

    from symopt.report.tables import OBJECTIVES, read_csv

    path = run_dir / "trials.csv"
    if not path.is_file():
        return None
    rows = read_csv(path)
    key = next((k for k in OBJECTIVES if k in rows.columns), None)
    if key is None or not len(rows):
        return None
    values = [v for v in pd.to_numeric(rows[key], errors="coerce") if math.isfinite(v)]
    return min(values) if values else None
