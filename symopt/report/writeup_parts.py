"""Sections a run's and a sweep's write-up share, each sentence made from stored data by a
rule: the method, the experimental setup, the discovered program and the limitations.

Operator weights are the final adapted ones stored in `run.sqlite` (`operator_weights`,
`operator_stats`; a run without them: its `[mutation]` config); compute is the training
steps actually taken (`compute_spent`).

>>> seed_name("programs/adamw.prog"), seed_name("my.prog"), slots_word(1)
('AdamW', 'my', 'one-slot')
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from symopt.analysis import remove_dead
from symopt.analysis.hints import sign_like
from symopt.lang import parse
from symopt.lang.dead_code import state_values
from symopt.report.bibliography import cite
from symopt.report.history import RunHistory
from symopt.report.notes import fmt
from symopt.report.paper import Algorithm, Block, Code, Para, Section, Table
from symopt.report.run_report import program_diff, readable
from symopt.search.config.sections import DEFAULT_FUNCTIONS, OPERATORS, MutationConfig
from symopt.search.evolution.progress import format_duration
from symopt.search.storage.store import RunStore

#: Programs a search in the paper trained (Chen et al. 2023, section 2: 20-30K of 200-300K).
PAPER_TRAINED = 20_000
_NAMES = {"adamw": "AdamW", "adam": "Adam", "lion": "Lion", "sgd": "SGD", "signum": "Signum",
          "momentum": "SGD with momentum", "rmsprop": "RMSProp", "adagrad": "Adagrad"}
_SLOTS = {0: "stateless", 1: "one-slot", 2: "two-slot", 3: "three-slot", 4: "four-slot"}


def seed_name(path: str) -> str:
    """How the write-up names a seed program: built-ins by their usual name."""
    stem = Path(path.strip("<>").split()[0]).stem
    return _NAMES.get(stem.lower(), stem)


def slots_word(n: int) -> str:
    return _SLOTS.get(n, f"{n}-slot")


def state_words(n: int) -> str:
    """`2` -> `'2 state values'`, `1` -> `'1 state value'`."""
    return f"{n} state value{'' if n == 1 else 's'}"


def operator_weights(h: RunHistory) -> dict[str, float]:
    """The mutation operators' weights of run `h`: the final adapted weights stored in
    `run.sqlite` (table `operators`) when the run kept any, else its `[mutation]` config's."""
    final = operator_stats(h.run_dir)
    if final:
        return {op: final[op][2] for op in OPERATORS if op in final}
    stored = h.config.get("mutation", {})
    return {op: float(stored.get(op, getattr(MutationConfig(), op))) for op in OPERATORS}


def operator_stats(run_dir: Path) -> dict[str, tuple[int, int, float]]:
    """`{operator: (children, successes, weight)}` as last stored (empty for older runs)."""
    store = RunStore.open(run_dir)
    try:
        rows = store.operator_stats()
    finally:
        store.close()
    return {op: (c, k, w) for _, op, c, k, w in rows}  # oldest first: the last row wins


@dataclass(frozen=True)
class Compute:
    training_runs: int
    steps: int  # training steps actually taken (all seeds and multipliers; cache hits none)
    train_seconds: float

    def text(self) -> str:
        return (f"{self.training_runs} training runs, {self.steps:,} training steps; "
                f"{format_duration(self.train_seconds)} of training time")


def compute_spent(h: RunHistory) -> Compute:
    """The compute run `h` spent: training runs and steps (cache hits are free), seconds."""
    return Compute(h.training_runs, h.training_steps,
                   sum(r.eval_seconds for r in h.candidates if not r.cache_hit))


def is_synthetic(task_name: str) -> bool:
    from symopt.tasks.registry import BUILTIN_TASKS

    return BUILTIN_TASKS.get(task_name, ("",))[0] == "synthetic"


def environment(run_dir: Path) -> dict[str, Any] | None:
    """The machine and versions stored with the run (None for older stores)."""
    store = RunStore.open(run_dir)
    try:
        raw = store.meta("environment")
    finally:
        store.close()
    return json.loads(raw) if raw else None


def constants_only(seed_text: str, text: str) -> bool:
    """Whether two programs' live statements are the same once constants are blanked out
    (compared before simplification, whose folding depends on the constants' values).

    >>> constants_only("def train(w, g, lr):\\n    return g * (lr * 0.1)",
    ...                "def train(w, g, lr):\\n    return g * (lr * 0.3)")
    True
    """
    def shape(t: str) -> tuple:
        p = remove_dead(parse(t))
        body = tuple((s.target, s.fn, tuple("c" if isinstance(a, float) else a
                                            for a in s.args)) for s in p.body)
        return p.params, body, p.returns

    return shape(seed_text) == shape(text)


# -- sections ---------------------------------------------------------------------------------
def _operators_table(h: RunHistory, weights: dict[str, float], total: float) -> Table:
    stats = operator_stats(h.run_dir)
    if not stats:
        return Table(["operator", "weight", "share"],
                     [[f"`{op}`", f"{w:g}", f"{100 * w / total:.1f}%"]
                      for op, w in weights.items()],
                     "Mutation operators and their weights (relative; the share is the chance "
                     "of each operator being tried).")
    return Table(["operator", "children", "beat their parent", "final weight"],
                 [[f"`{op}`", str(c), f"{100 * k / c:.1f}%" if c else "-", f"{w:.3f}"]
                  for op, (c, k, w) in stats.items()],
                 "Mutation operators: children made, the share that beat their parent, and "
                 "the weight each operator had at the end (weights follow this credit).")


def method_section(h: RunHistory, what: str) -> Section:
    """Search space, operators and weights, budget, proxy task, hurdles, funnel."""
    cfg = h.config
    search, task, mutation = cfg.get("search", {}), cfg.get("task", {}), cfg.get("mutation", {})
    functions = mutation.get("functions", list(DEFAULT_FUNCTIONS))
    weights = operator_weights(h)
    total = sum(weights.values())
    seeds = ", ".join(seed_name(p) for p, _ in h.seeds)
    method = search.get("method", "evolution")
    how = (f"regularized (aging) evolution {cite('regevo')} as in AutoML-Zero "
           f"{cite('automlzero')} and Lion {cite('lion')}: a population of "
           f"{search.get('population')} programs, tournaments of {search.get('tournament')}, "
           f"the oldest member leaves" if method == "evolution" else f"the `{method}` method")
    blocks: list[Block] = [
        Para(f"{what} An optimizer is a program: a list of statements over the weight, the "
             f"gradient, state slots and the learning rate, whose result `update` is "
             f"subtracted from the weights; this is the search space of Lion {cite('lion')}. "
             f"The search started from {seeds} and used {how}."),
        Para(f"Search space: {len(functions)} library functions "
             f"({', '.join(f'`{f}`' for f in functions)}); at most "
             f"{mutation.get('max_statements', MutationConfig().max_statements)} statements per "
             f"program."),
        _operators_table(h, weights, total),
        Para(f"Budget: {h.budget:,} training {h.budget_unit}; equivalent programs (same "
             f"canonical hash or numeric fingerprint) are answered by a cache and cost "
             f"nothing. Fitness: the "
             f"validation loss on the proxy task `{task.get('name')}` (overrides "
             f"{task.get('overrides') or 'none'}), trained with task seed(s) "
             f"{task.get('seeds')}; lower is better."),
        Para(_hurdles_sentence(cfg)), Para(_funnel_sentence(cfg))]
    return Section("Method", blocks)


def _hurdles_sentence(cfg: dict[str, Any]) -> str:
    hurdles = cfg.get("hurdles")
    if not hurdles or not hurdles.get("at"):
        return "Hurdles: none; every candidate trained its full run unless it diverged."
    at = ", ".join(f"{100 * f:g}%" for f in hurdles["at"])
    rule = (f"worse than the {hurdles.get('quantile')} quantile of the population"
            if hurdles.get("rule") == "quantile" else
            f"more than {100 * hurdles.get('margin', 0):g}% above the seed's curve")
    return f"Hurdles: at {at} of a training run, a candidate {rule} was stopped."


def _funnel_sentence(cfg: dict[str, Any]) -> str:
    stages = cfg.get("funnel") or []
    if not stages:
        return "Funnel: none; the program was judged on the proxy task only."
    parts = [f"stage {k}: the top {s.get('top_k')} and the seed on `{s.get('task')}` "
             f"(task seeds {s.get('seeds')}, learning-rate multipliers "
             f"{s.get('lr_multipliers')})" for k, s in enumerate(stages, 1)]
    return "Funnel (meta-validation on larger tasks): " + "; ".join(parts) + "."


def setup_table(h: RunHistory, *, wall: float, sessions: int, compute: Compute) -> Table:
    """Machine, backend, versions, compute, seeds and wall time."""
    env = environment(h.run_dir)
    task, search = h.config.get("task", {}), h.config.get("search", {})
    executor = h.config.get("executor", {})
    if env:
        machine = f"{env.get('platform')}, {env.get('cpus')} CPU cores"
        devices = [d for d in env.get("devices", []) if d != env.get("backend")]
        backend = f"JAX {env.get('backend')}" + (f" ({', '.join(devices)})" if devices else "")
        versions = ", ".join(f"{k} {v}" for k, v in env.get("versions", {}).items())
    else:
        machine = backend = versions = "not recorded in this run's store"
    rows = [["machine", machine], ["backend", backend], ["versions", versions],
            ["executor", f"{executor.get('kind', 'auto')}, {search.get('workers', 1)} "
                         f"worker(s); engine {task.get('engine', 'default')}"],
            ["compute spent", compute.text()], ["task seeds", str(task.get("seeds"))],
            ["search seed", str(search.get("random_seed", search.get("seed")))],
            ["wall time", f"{format_duration(wall)} in {sessions} session(s)"]]
    return Table(["", ""], rows, "Experimental setup, as stored with the run.")


def program_blocks(rec_text: str, seed_text: str, seed: str, label: str) -> list[Block]:
    """The program as an algorithm block, its simplified form, memory, sign-like hint and
    how it differs from the seed."""
    program = parse(rec_text)
    blocks: list = [Algorithm(remove_dead(program), f"{label} (live statements)"),
                    Code(readable(rec_text), f"{label}, simplified.")]
    mem, seed_mem = state_values(program), state_values(parse(seed_text))
    blocks.append(Para(
        f"Memory: {state_words(mem)} per parameter, against {seed_mem} for {seed}. "
        + ("The update is sign-like: every element is bounded, as in Lion; the Lion paper "
           f"{cite('lion')} reports that such optimizers want a learning rate 3-10x smaller "
           "and a weight decay 3-10x larger than AdamW's." if sign_like(program) else
           "The update is not sign-like: its elements are not bounded by the program's "
           "form (as AdamW's are not).")))
    if remove_dead(program) == remove_dead(parse(seed_text)):
        blocks.append(Para(f"This is {seed} itself."))
    elif constants_only(seed_text, rec_text):
        blocks.append(Para(f"It has {seed}'s structure; only constants differ:"))
        blocks.append(Code(program_diff(seed_text, rec_text), f"Against {seed}.",
                           "diff"))
    else:
        diff = program_diff(seed_text, rec_text)
        blocks.append(Code(diff or "(reads the same)", f"Against {seed} (simplified forms).",
                           "diff"))
    return blocks


def budget_limitation(trained: int) -> str | None:
    if trained * 10 > PAPER_TRAINED:
        return None
    return (f"The budget is far below the paper's: {trained} training runs here, against "
            f"20,000 to 30,000 programs trained per search in {cite('lion')}; only programs a "
            f"few mutations from the seed were reachable.")


def task_limitations(cfg: dict[str, Any]) -> list[str]:
    task = cfg.get("task", {})
    out = []
    if len(task.get("seeds", [0])) == 1:
        out.append("Every candidate was trained with one task seed: a fitness difference "
                   "smaller than the training noise between seeds cannot be told from luck.")
    stages = cfg.get("funnel") or []
    if stages and all(len(s.get("seeds", [0])) == 1 for s in stages):
        out.append("Each funnel stage trained one seed per program.")
    if is_synthetic(str(task.get("name"))):
        out.append(f"The proxy task `{task.get('name')}` is synthetic (no neural network): "
                   f"a program that wins there may not help on a real model.")
    return out


def ratio(x: float, base: float) -> float:
    """`x / base`, nan where that is not a number (a zero or infinite base)."""
    ok = math.isfinite(x) and math.isfinite(base) and base != 0
    return x / base if ok else math.nan


def show(x: float | None, spec: str = ".4g") -> str:
    return fmt(x, spec) if not (isinstance(x, float) and math.isnan(x)) else "-"

