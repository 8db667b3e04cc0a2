"""`symopt export --to torch`: a torch.optim.Optimizer equal to the JAX path and to torch.optim."""

from __future__ import annotations

import copy

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import load_module
from paths import PROGRAM_FILES, builtin_file, local_program

from symopt.cli import main
from symopt.compile import export_torch, to_optax
from symopt.lang import parse_file

torch = pytest.importorskip("torch")  # the `torch` extra, part of `dev`: CI runs these

PROGRAMS = PROGRAM_FILES + [
    local_program("lion_raw.prog"), local_program("clip_global.prog")]
SHAPES = [(), (3,), (2, 3), (4, 1, 2)]  # 0-d tensors included
STEPS = 100
LR = 1e-2


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    cache = {}

    def get(path):
        if path not in cache:
            src = export_torch(parse_file(path), name="Opt")
            cache[path] = load_module(src, tmp_path_factory.mktemp("torch"),
                                      "t_" + path.replace("/", "_").replace(".", "_"))
        return cache[path]
    return get


def _data(seed=0, steps=STEPS):
    rng = np.random.default_rng(seed)
    params = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
    grads = [[rng.normal(size=s).astype(np.float32) for s in SHAPES] for _ in range(steps)]
    return params, grads


def _run_torch(opt_cls, params, grads, **kw):
    ps = [torch.tensor(p, requires_grad=True) for p in params]
    opt = opt_cls(ps, **kw)
    for gs in grads:
        for p, g in zip(ps, gs, strict=True):
            p.grad = torch.tensor(g)
        opt.step()
    return [p.detach().numpy() for p in ps], opt


def _run_jax(program, params, grads):
    tx = to_optax(program, LR)
    ps = [jnp.asarray(p) for p in params]

    @jax.jit
    def step(ps, s, gs):
        u, s = tx.update(gs, s, ps)
        return optax.apply_updates(ps, u), s

    s = tx.init(ps)
    for gs in grads:
        ps, s = step(ps, s, [jnp.asarray(g) for g in gs])
    return [np.asarray(p) for p in ps]


def _rel(a, b, start):
    """Largest per-tensor max |a - b| / max |b - start|: relative to how far training moved."""
    return max(float(np.max(np.abs(x - y)) / max(np.max(np.abs(y - s)), 1e-30))
               for x, y, s in zip(a, b, start, strict=True))


@pytest.mark.parametrize("path", PROGRAMS)
def test_torch_export_equals_the_jax_path(path, modules):
    params, grads = _data()
    ours, _ = _run_torch(modules(path).Opt, params, grads, lr=LR)
    want = _run_jax(parse_file(path), params, grads)
    assert all(x.shape == s for x, s in zip(ours, SHAPES, strict=True))
    assert _rel(ours, want, params) <= 1e-5


REFERENCES = {
    "adamw": lambda ps: torch.optim.AdamW(ps, lr=LR, betas=(0.9, 0.999), eps=1e-8,
                                          weight_decay=0.01),
    "adam": lambda ps: torch.optim.Adam(ps, lr=LR, betas=(0.9, 0.999), eps=1e-8),
    "sgd": lambda ps: torch.optim.SGD(ps, lr=LR),
    "momentum": lambda ps: torch.optim.SGD(ps, lr=LR, momentum=0.9),
    "nesterov": lambda ps: torch.optim.SGD(ps, lr=LR, momentum=0.9, nesterov=True),
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_torch_export_equals_torch_optim(name, modules):
    params, grads = _data(seed=1)
    ours, _ = _run_torch(modules(builtin_file(name)).Opt, params, grads, lr=LR)
    theirs, _ = _run_torch(lambda ps, lr: REFERENCES[name](ps), params, grads, lr=LR)
    # torch's AdamW decays by `p *= 1 - lr * wd` before the step: float32 rounding of that
    # product on |p| ~ 2 adds up to ~5e-5 of the distance moved in 100 steps; adam, sgd: ~1e-6
    assert _rel(ours, theirs, params) <= (1e-4 if name == "adamw" else 1e-5)


def test_param_groups_state_dict_round_trip_zero_grad_and_closure(modules):
    Opt = modules(builtin_file("adamw")).Opt
    params, grads = _data(seed=2, steps=10)
    ps = [torch.tensor(p, requires_grad=True) for p in params]
    opt = Opt([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.1, "b1": 0.5}], lr=LR)
    assert set(opt.param_groups[0]) >= {"lr", "b1", "b2", "eps", "weight_decay"}
    assert opt.param_groups[1]["b1"] == 0.5 and opt.param_groups[0]["b1"] == 0.9

    def feed(opt, ps, gs):
        for p, g in zip(ps, gs, strict=True):
            p.grad = torch.tensor(g)
        opt.step()

    for gs in grads[:5]:
        feed(opt, ps, gs)
    st = opt.state[ps[0]]
    assert set(st) == {"step", "m", "v"} and float(st["step"]) == 5.0
    saved = copy.deepcopy(opt.state_dict())  # as torch.save / torch.load would give it
    ps2 = [p.detach().clone().requires_grad_(True) for p in ps]
    opt2 = Opt([{"params": ps2[:2]}, {"params": ps2[2:]}], lr=1.0)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[1]["lr"] == 0.1 and opt2.param_groups[1]["b1"] == 0.5
    for gs in grads[5:]:
        feed(opt, ps, gs)
        feed(opt2, ps2, gs)
    for a, b in zip(ps, ps2, strict=True):
        assert torch.equal(a, b)
    # the second group's own lr and b1 were used: it differs from a one-group run
    one_group, _ = _run_torch(Opt, params, grads, lr=LR)
    assert not np.allclose(ps[3].detach().numpy(), one_group[3])
    np.testing.assert_allclose(ps[0].detach().numpy(), one_group[0], rtol=1e-6)

    opt.zero_grad()
    assert all(p.grad is None for p in ps)
    # closures: the loss is returned and its gradients are used
    x = torch.tensor([1.0, -2.0], requires_grad=True)
    sgd = modules(builtin_file("sgd")).Opt([x], lr=0.5)

    def closure():
        sgd.zero_grad()
        loss = (x ** 2).sum()
        loss.backward()
        return loss

    assert sgd.step(closure).item() == 5.0
    assert x.detach().tolist() == [0.0, 0.0]  # x - 0.5 * 2x


def test_sparse_and_complex_gradients_are_refused(modules):
    Opt = modules(builtin_file("adam")).Opt
    emb = torch.nn.Embedding(5, 2, sparse=True)
    emb(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match="sparse gradients"):
        Opt(emb.parameters()).step()
    z = torch.zeros(2, dtype=torch.complex64, requires_grad=True)
    z.grad = torch.ones(2, dtype=torch.complex64)
    with pytest.raises(RuntimeError, match="complex parameters are not supported"):
        Opt([z]).step()


def test_trains_a_torch_model(modules):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    x = torch.randn(64, 4)
    y = torch.sin(x.sum(1, keepdim=True))
    opt = modules(builtin_file("lion")).Opt(model.parameters(), lr=0.1)
    first = None
    for _ in range(60):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < 0.5 * first


def test_cli_export_torch_writes_a_standalone_module_and_hints(tmp_path, capsys):
    out = tmp_path / "my_opt.py"
    assert main(["export", builtin_file("lion"), "--to", "torch", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "optimizer memory: 1 state value per parameter" in err
    assert "sign-like" in err and "3-10x smaller" in err
    src = out.read_text()
    assert "class Lion(torch.optim.Optimizer):" in src
    assert "import jax" not in src and "symopt" not in src.split('"""')[2]
    mod = load_module(src, tmp_path, "my_opt")
    assert issubclass(mod.Lion, torch.optim.Optimizer)
    main(["export", builtin_file("adamw"), "--to", "torch", "-o", str(tmp_path / "a.py")])
    assert "sign-like" not in capsys.readouterr().err
