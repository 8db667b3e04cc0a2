"""The exported torch class behaves as torch.optim's own (`symopt.compile.torch_export`):
per-parameter step counts, lr schedulers (momentum cycling included), torch's keyword
arguments and argument checks. References: torch.optim.AdamW, Adam and SGD."""

from __future__ import annotations

import inspect

import pytest
from helpers import load_module

from symopt import programs
from symopt.compile import export_torch

torch = pytest.importorskip("torch")
lr_scheduler = torch.optim.lr_scheduler


@pytest.fixture(scope="module")
def classes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("torch_classes")
    return {name: load_module(export_torch(programs.load(name), name="Opt"), folder,
                              f"opt_{name}").Opt
            for name in ("adamw", "adam", "lion", "momentum")}


def _grad(step: int, k: int, shape) -> torch.Tensor:
    g = torch.Generator().manual_seed(1000 * step + k)
    return torch.randn(shape, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("name, reference", [
    ("adamw", lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.1)),
    ("adam", lambda ps: torch.optim.Adam(ps, lr=0.01)),
])
def test_each_parameter_uses_its_own_step_in_freeze_unfreeze_as_torch_optim(
        name, reference, classes):
    # PyTorch's freeze/unfreeze pattern: a layer frozen for the first two steps, then
    # trained; a parameter with no gradient on every third step. Compared step by step.
    shapes = [(3, 2), (2,), (4,)]
    start = [torch.randn(s, generator=torch.Generator().manual_seed(k), dtype=torch.float64)
             for k, s in enumerate(shapes)]
    ours = [p.clone().requires_grad_(True) for p in start]
    theirs = [p.clone().requires_grad_(True) for p in start]
    opt = classes[name](ours, lr=0.01, **({"weight_decay": 0.1} if name == "adamw" else {}))
    ref = reference(theirs)
    for step in range(10):
        for k, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            frozen = k == 1 and step < 2
            skipped = k == 2 and step % 3 == 1
            g = None if frozen or skipped else _grad(step, k, shapes[k])
            a.grad = b.grad = g
        opt.step()
        ref.step()
        for a, b in zip(ours, theirs, strict=True):
            assert torch.max(torch.abs(a - b)).item() <= 1e-10, (step, name)
        assert [float(opt.state[p]["step"]) if p in opt.state else 0.0 for p in ours] == [
            float(ref.state[p]["step"]) if p in ref.state else 0.0 for p in theirs]
    assert float(opt.state[ours[1]]["step"]) == 8.0  # its own count, not the group's 10


#: Minimal values for the arguments a scheduler requires (all others keep their defaults).
REQUIRED = {
    "lr_lambda": lambda opt: (lambda epoch: 0.9 ** epoch),
    "step_size": lambda opt: 3,
    "milestones": lambda opt: [2, 5],
    "gamma": lambda opt: 0.9,
    "T_max": lambda opt: 5,
    "T_0": lambda opt: 3,
    "base_lr": lambda opt: 0.001,
    "max_lr": lambda opt: 0.01,
}
#: Schedulers made of schedulers, and one whose required argument has a default of None.
COMPOSED = {
    "OneCycleLR": lambda opt: {"max_lr": 0.01, "total_steps": 20},
    "SequentialLR": lambda opt: {"schedulers": [lr_scheduler.ConstantLR(opt, total_iters=2),
                                                lr_scheduler.ExponentialLR(opt, 0.9)],
                                 "milestones": [2]},
    "ChainedScheduler": lambda opt: {"schedulers": [lr_scheduler.ConstantLR(opt),
                                                    lr_scheduler.ExponentialLR(opt, 0.9)]},
}
SCHEDULERS = sorted(
    name for name, cls in vars(lr_scheduler).items()
    if inspect.isclass(cls) and not name.startswith("_") and name != "LRScheduler"
    and (issubclass(cls, lr_scheduler.LRScheduler) or name == "ReduceLROnPlateau"))


def _schedule(make_opt, name: str, steps: int = 15):
    """(lr, beta1-or-momentum) after each step of a one-tensor optimizer under `name`."""
    p = torch.zeros(2, requires_grad=True)
    opt = make_opt([p])
    cls = getattr(lr_scheduler, name)
    if name in COMPOSED:
        kwargs = COMPOSED[name](opt)
    else:
        required = [a for a in list(inspect.signature(cls).parameters.values())[1:]
                    if a.default is inspect.Parameter.empty
                    and a.kind not in (a.VAR_POSITIONAL, a.VAR_KEYWORD)]
        missing = [a.name for a in required if a.name not in REQUIRED]
        assert not missing, f"{name} needs {missing}: add minimal values to REQUIRED"
        kwargs = {a.name: REQUIRED[a.name](opt) for a in required}
    sched = cls(optimizer=opt, **kwargs)
    seen = []
    for step in range(steps):
        p.grad = torch.full((2,), 1.0 + step)
        opt.step()
        group = opt.param_groups[0]
        momentum = group["betas"][0] if "betas" in group else group.get("momentum")
        if "b1" in group:  # ours: the value the step used is the scheduler's
            assert group["b1"] == momentum
        seen.append((group["lr"], momentum))
        sched.step(1.0) if name == "ReduceLROnPlateau" else sched.step()
    return seen


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_every_torch_lr_scheduler_drives_exported_adamw_lion_and_sgd_momentum_as_torch_optim(
        scheduler, classes):
    adamw = _schedule(lambda ps: torch.optim.AdamW(ps, lr=0.01), scheduler)
    sgd = _schedule(lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9), scheduler)
    assert _schedule(lambda ps: classes["adamw"](ps, lr=0.01), scheduler) == adamw
    assert _schedule(lambda ps: classes["lion"](ps, lr=0.01, b1=0.9, b2=0.999),
                     scheduler) == adamw
    assert _schedule(lambda ps: classes["momentum"](ps, lr=0.01), scheduler) == sgd
    if scheduler in ("OneCycleLR", "CyclicLR"):  # these cycle the momentum too
        assert len({m for _, m in adamw}) > 2 and len({m for _, m in sgd}) > 2


def test_betas_and_momentum_are_kept_in_sync_with_b1_and_b2(classes):
    p = torch.zeros(2, requires_grad=True)
    opt = classes["adamw"]([p], lr=0.01, betas=(0.8, 0.99))
    group = opt.param_groups[0]
    assert (group["b1"], group["b2"], group["betas"]) == (0.8, 0.99, (0.8, 0.99))
    p.grad = torch.ones(2)
    group["b1"] = 0.5  # set by name: betas follows
    opt.step()
    assert group["betas"] == (0.5, 0.99)
    group["betas"] = (0.7, 0.95)  # set as torch code does: b1 and b2 follow
    opt.step()
    assert (group["b1"], group["b2"]) == (0.7, 0.95)
    opt.add_param_group({"params": [torch.zeros(1, requires_grad=True)], "b1": 0.6})
    assert opt.param_groups[1]["betas"] == (0.6, 0.99)
    p = torch.zeros(2, requires_grad=True)
    mom = classes["momentum"]([p], lr=0.1, momentum=0.5)
    assert mom.param_groups[0]["b1"] == 0.5 and "betas" not in mom.param_groups[0]
    # the step used the synced value: m = 0.5 * m + g, against torch's SGD
    q = torch.zeros(2, requires_grad=True)
    sgd = torch.optim.SGD([q], lr=0.1, momentum=0.5)
    for opt_, x in ((mom, p), (sgd, q)):
        for _ in range(3):
            x.grad = torch.ones(2)
            opt_.step()
    assert torch.allclose(p, q)


def test_maximize_ascends_as_torch_optim_and_the_options_torch_passes_are_accepted(classes):
    def run(make, steps=5):
        x = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
        opt = make([x])
        for step in range(steps):
            x.grad = _grad(step, 0, (2,))
            opt.step()
        return x.detach()

    ascended = run(lambda ps: classes["adamw"](ps, lr=0.1, maximize=True))
    assert torch.max(torch.abs(ascended - run(
        lambda ps: torch.optim.AdamW(ps, lr=0.1, maximize=True)))).item() <= 1e-10
    plain = run(lambda ps: classes["adamw"](ps, lr=0.1))
    assert not torch.allclose(ascended, plain)
    for foreach in (None, False, True):  # foreach picks an implementation, not a result
        same = run(lambda ps, f=foreach: classes["adamw"](
            ps, lr=0.1, foreach=f, capturable=False, differentiable=False, fused=None))
        assert torch.equal(same, plain)
    group = classes["adamw"]([torch.zeros(1, requires_grad=True)], fused=False).param_groups[0]
    assert {"maximize", "foreach", "capturable", "differentiable", "fused"} <= set(group)


@pytest.mark.parametrize("kwargs, names, torch_refuses", [
    ({"lr": -1.0}, "learning rate", True),
    ({"lr": torch.tensor([0.1, 0.2])}, "Tensor lr must be 1-element", True),
    ({"b1": 1.0}, "b1", True),
    ({"b2": -0.1}, "b2", True),
    ({"betas": (0.9, 1.5)}, "b2", True),
    ({"betas": (0.9,)}, "betas", False),  # torch: an IndexError
    ({"eps": -1e-8}, "eps", True),
    ({"weight_decay": -0.01}, "weight_decay", True),
    ({"capturable": True}, "capturable", False),  # what this class cannot honour
    ({"differentiable": True}, "differentiable", False),
    ({"fused": True}, "fused", False),
    ({"foreach": "yes"}, "foreach", False),
])
def test_bad_arguments_are_a_value_error_naming_them_as_torch_optim_checks_them(
        kwargs, names, torch_refuses, classes):
    p = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError, match=names):
        classes["adamw"](p, **kwargs)
    if torch_refuses:  # the same input to torch.optim.AdamW: refused too
        theirs = {"betas": (0.9, kwargs["b2"])} if "b2" in kwargs else {
            "betas": (kwargs["b1"], 0.999)} if "b1" in kwargs else kwargs
        with pytest.raises(ValueError):
            torch.optim.AdamW(p, **theirs)
    classes["adamw"](p, lr=torch.tensor(0.1), b1=0.0, eps=0.0, weight_decay=0.0)  # edges: fine


def test_a_checkpoint_of_an_earlier_export_without_betas_or_options_loads_and_steps(classes):
    p = torch.ones(2, requires_grad=True)
    opt = classes["adamw"]([p], lr=0.1, b1=0.5)
    p.grad = torch.ones(2)
    opt.step()
    saved = opt.state_dict()
    for group in saved["param_groups"]:  # what the export wrote before these keys existed
        for key in ("betas", "maximize", "foreach", "capturable", "differentiable", "fused"):
            del group[key]
    q = torch.ones(2, requires_grad=True)
    again = classes["adamw"]([q], lr=1.0)
    again.load_state_dict(saved)
    group = again.param_groups[0]
    assert group["betas"] == (0.5, 0.999) and group["maximize"] is False
    q.grad = torch.ones(2)
    again.step()
    assert group["b1"] == 0.5 and float(again.state[q]["step"]) == 2.0
