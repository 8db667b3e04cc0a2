"""The learning-rate probe: its fitness is one full run at the multiplier it keeps, and the
exported optax and torch optimizers of a probed candidate train to its stored fitness."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest
from helpers import load_module

from symopt.compile import export_optax, export_torch
from symopt.lang import parse
from symopt.search.config.loading import SearchConfig
from symopt.search.evolution.loop import run_search
from symopt.search.evolution.lr_probe import (
    DEFAULT_PROBE,
    lr_scale,
    structure_key,
    verdict,
    with_lr_scale,
)
from symopt.search.execution.executor import evaluate_batch_text, evaluate_text
from symopt.search.storage.store import RunStore
from symopt.tasks import get_task
from symopt.tasks.train import evaluate

# SGD at a twentieth of the quadratic's learning rate: too slow, so a probe keeps x4
SLOW_SGD = "def train(w, g, lr):\n    u = g * lr\n    u = u * 0.05\n    return u\n"
STEPS = 30
TASK = {"name": "quadratic", "seeds": [0, 1], "overrides": {"steps": STEPS},
        "time_limit_s": None, "lr_multipliers": None}
PROBE = {**TASK, "lr_multipliers": list(DEFAULT_PROBE), "race_at": STEPS // 4}


def test_scale_statement_and_structure_key():
    p = parse(SLOW_SGD)
    scaled = with_lr_scale(with_lr_scale(p, 4.0), 0.25)
    assert lr_scale(with_lr_scale(p, 4.0)) == 4.0 and lr_scale(scaled) == 1.0
    assert structure_key(scaled) == structure_key(p) == structure_key(with_lr_scale(p, 4.0))
    other = parse(SLOW_SGD.replace("u = g * lr", "u = sign(g) * lr"))
    assert structure_key(other) != structure_key(p)


@pytest.mark.parametrize("evaluate_fn", ["sequential",
                                         pytest.param("batched", marks=pytest.mark.slow)])
def test_probe_fitness_is_one_full_run_at_the_chosen_multiplier(evaluate_fn):
    if evaluate_fn == "sequential":
        out = evaluate_text(SLOW_SGD, PROBE)
    else:
        out = evaluate_batch_text((SLOW_SGD,), {**PROBE, "batch_hurdles": [[]]})[0]
    v = verdict(parse(SLOW_SGD), out.status, out.message, out.steps, out.by_multiplier)
    assert v.status == "ok" and v.multiplier == 4.0
    # losers stopped at the race (a quarter of the run): less than 3 full runs x 2 seeds
    assert out.steps < 3 * 2 * STEPS and v.probe_steps == out.steps - 2 * STEPS
    again = evaluate_text(parse_text(v.program), TASK)  # the scaled program, trained once
    assert again.status == "ok" and again.steps == 2 * STEPS
    assert v.fitness == pytest.approx(again.fitness, rel=1e-5)
    # never better than it is: not the per-seed best of the multipliers, the kept one's mean
    assert v.fitness >= out.fitness - 1e-12


def parse_text(program) -> str:
    from symopt.lang import to_text

    return to_text(program, header=False)


@pytest.fixture(scope="module")
def probed_run(tmp_path_factory):
    """A small search from SLOW_SGD with the probe on: candidates stored with their scale."""
    d = tmp_path_factory.mktemp("probe") / "run"
    (seed := d.parent / "slow.prog").write_text(SLOW_SGD)
    cfg = SearchConfig.from_dict({
        "search": {"population": 4, "budget": 40 * STEPS, "budget_unit": "steps",
                   "lr_probe": list(DEFAULT_PROBE), "random_seed": 1},
        "task": {"name": "quadratic", "overrides": {"steps": STEPS}},
        "executor": {"kind": "inline"}})
    run_search(cfg, d, seeds=[str(seed)])
    store = RunStore.open(d)
    try:
        return store.candidates()
    finally:
        store.close()


def _scaled_ok(candidates):
    found = [r for r in candidates if r.status == "ok" and not r.cache_hit
             and lr_scale(parse(r.program_text)) != 1.0]
    assert found, "the probe kept no other scale in this search"
    return min(found, key=lambda r: r.fitness)


def test_exported_optax_optimizer_reproduces_the_stored_fitness(probed_run, tmp_path):
    rec = _scaled_ok(probed_run)
    mod = load_module(export_optax(parse(rec.program_text), name="opt"), tmp_path, "probed_opt")
    r = evaluate(lambda lr: mod.opt(lr), get_task("quadratic", steps=STEPS), seed=0)
    assert r.status == "ok" and abs(r.fitness - rec.fitness) <= 1e-4


def test_exported_torch_optimizer_reproduces_the_stored_fitness(probed_run, tmp_path):
    torch = pytest.importorskip("torch")
    rec = _scaled_ok(probed_run)
    mod = load_module(export_torch(parse(rec.program_text), name="Opt"), tmp_path, "probed_t")
    task = get_task("quadratic", steps=STEPS)
    k_init, k_data = jax.random.split(jax.random.PRNGKey(0))  # as the training loop does
    w = torch.tensor(np.asarray(task.init_params(k_init)), requires_grad=True)
    opt = mod.Opt([w], lr=1.0)
    schedule = task.lr_schedule(1.0)
    data = task.data  # loaded outside the trace
    grad = jax.jit(lambda p, step: jax.grad(task.loss)(
        p, task.train_batch(data, jax.random.fold_in(k_data, step))))
    for step in range(STEPS):
        w.grad = torch.tensor(np.asarray(grad(w.detach().numpy(), step)))
        opt.param_groups[0]["lr"] = float(schedule(step))
        opt.step()
    final = float(task.val_loss(w.detach().numpy(), task.data))
    assert math.isfinite(final) and abs(final - rec.fitness) <= 1e-4


def test_batching_keeps_probes_and_plain_runs_in_separate_groups():
    from symopt.search.execution.batching import BatchingExecutor
    from symopt.search.execution.executor import EvalJob, EvalOutcome, InlineExecutor

    groups = []

    def record(texts, spec):
        groups.append((list(texts), spec.get("lr_multipliers")))
        return [EvalOutcome(float(len(t)), "ok") for t in texts]

    ex = BatchingExecutor(InlineExecutor(record), batch=3)
    futures = [ex.submit(EvalJob(t, {**TASK, **extra})) for t, extra in
               (("a", {}), ("bb", {"lr_multipliers": [1.0, 0.25, 4.0], "race_at": 5}),
                ("ccc", {}))]
    assert [ex.outcome(f).fitness for f in futures] == [1.0, 2.0, 3.0]
    assert sorted(groups, key=str) == sorted([(["a", "ccc"], None),
                                              (["bb"], [1.0, 0.25, 4.0])], key=str)
