"""Programs as standalone Python: an optax optimizer, a torch optimizer, or an update function.

The generated modules import only `jax` / `jax.numpy` / `optax`, or only
`torch`. Code is built from the program model by `symopt.compile.codegen`;
the program's text appears only in the docstring, as `symopt.lang.to_text`
prints it (escaped). Hyperparameters are one per role, named as
`symopt.compile.hyper` names them; the state keeps only the slots that matter
(`symopt.lang.dead_code.remove_dead`).

>>> from symopt import programs
>>> src = export_optax(programs.load("lion"), name="lion")
>>> "def lion(learning_rate, *, b1=0.9, weight_decay=0.1, lr_scale=0.1, b2=0.99):" in src
True
"""

from __future__ import annotations

from symopt.compile.codegen import check_name, leaf_function, staged_update
from symopt.compile.codegen_support import TORCH_NAMESPACE, helper_source
from symopt.lang.dead_code import remove_dead
from symopt.lang.model import Program
from symopt.lang.printer import to_text

_COMPLEX = ("symopt programs are defined over real numbers (square(g) would be g*g, not "
            "|g|^2): optimize the real and imaginary parts as separate real parameters")


def _program_block(program: Program) -> str:
    text = to_text(program, header=False).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return "\n".join("    " + line for line in text.splitlines())


def _hyper_doc(code) -> str:
    if not code.hyperparameters:
        return "The program has no hyperparameters."
    pairs = ", ".join(f"{i}={v!r}" for i, v in code.hyperparameters)
    return f"Hyperparameters (one per role of the program's constants): {pairs}."


_GLOBAL_NOTE = ("Global functions (global_norm, clip_by_global_norm) reduce over the one "
                "array given,\nnot over a whole parameter tree.\n")

_JAX_IMPORTS = "import builtins as _builtins\n\nimport jax\nimport jax.numpy as _xp\n"


def export_python(program: Program, name: str = "update") -> str:
    """A module defining ``NAME(w, g, <state...>, lr[, step], *, b1=..., ...)`` over arrays.

    It returns ``(update, new_state...)``; the training loop applies ``w - update``.
    Limitation: the function sees one array, so global functions (`global_norm`,
    `clip_by_global_norm`) reduce over that array only; they equal the compiler's
    (which reduces over the whole parameter tree) only for a one-array model. The
    generated module says so; use ``export_optax`` for the tree-wide semantics.

    >>> from symopt import programs
    >>> src = export_python(programs.load("sgd"), name="sgd")
    >>> print(src[src.index("def sgd"):])
    def sgd(w_, g_, lr_):
        dt = g_.dtype
        update_ = _xp.astype(g_ * lr_, dt)
        return _xp.astype(update_, dt),
    <BLANKLINE>
    """
    check_name(name)
    leaf = leaf_function(program, name)
    doc = (f'"""{name}: an update rule exported by symopt from the program:\n\n'
           f"{_program_block(program)}\n\n{_hyper_doc(leaf)}\n"
           f"Parameters are renamed with a trailing underscore; ``w - update`` is the step.\n"
           + (_GLOBAL_NOTE if leaf.has_global else "") + '"""')
    return f"{doc}\n\n{_JAX_IMPORTS}\n{helper_source(leaf.helpers)}\n\n{leaf.source}"


def _slot_names(program: Program) -> list[str]:
    return list(remove_dead(program).state_names)


def export_optax(program: Program, name: str = "optimizer") -> str:
    """A module defining ``NAME(learning_rate, *, b1=..., ...)``, an optax optimizer factory.

    It returns an `optax.GradientTransformationExtraArgs` (extra arguments to
    ``update`` are accepted and ignored) whose state is a ``ProgramState``
    NamedTuple ``(count, slots)`` as `symopt.compile.to_optax`'s; the count
    saturates (`optax.safe_increment`). `learning_rate` is a number or an
    optax schedule; the hyperparameters are keyword arguments, so the factory
    works with `optax.inject_hyperparams`. The update runs in stages
    (`symopt.compile.codegen.staged_update`): per-leaf functions mapped over
    the leaves, and global functions (`global_norm`, `clip_by_global_norm`)
    over the whole tree between them, as `to_optax` runs the program. The
    program's `step` is counted in the widest floating dtype of the gradients
    (float64 parameters: float64). Complex parameters are refused.
    """
    check_name(name)
    staged = staged_update(program)
    n_state = len(_slot_names(program))
    p = staged.params
    w, g, slots = p[0], p[1], p[2:2 + n_state]
    lr = p[2 + n_state]
    hp_sig = "".join(f", {i}={v!r}" for i, v in staged.hyperparameters)
    lines = [
        f"def {name}(learning_rate{', *' + hp_sig if staged.hyperparameters else ''}):",
        '    """The exported optimizer; `learning_rate` is a number or an optax schedule.',
        "",
        f"    {_hyper_doc(staged)}",
        "    State: ProgramState(count, slots: one pytree per state slot); update returns "
        "-update.",
        '    """',
        "",
        "    def init_fn(params):",
        "        _check_real(jax.tree_util.tree_leaves(params))",
        "        slots = _builtins.tuple(jax.tree_util.tree_map(_xp.zeros_like, params)"
        f" for _ in _builtins.range({n_state}))",
        "        return ProgramState(count=_xp.zeros([], _xp.int32), slots=slots)",
        "",
        "    def update_fn(updates, state, params=None, **extra_args):",
        "        del extra_args  # optax's GradientTransformationExtraArgs contract",
        "        count, slots = state.count, state.slots",
        f"        {g}, treedef = jax.tree_util.tree_flatten(updates)",
        f"        _check_real({g})",
    ]
    if staged.uses_weights:
        lines += ["        if params is None:",
                  f"            raise _builtins.ValueError('{name} reads the weights: "
                  "pass params to update()')",
                  f"        {w} = treedef.flatten_up_to(params)"]
    if slots:
        lines.append(f"        {', '.join(slots)}{',' if len(slots) == 1 else ''} = "
                     "[treedef.flatten_up_to(s) for s in slots]")
    lines.append(f"        {lr} = learning_rate(count) if _builtins.callable(learning_rate) "
                 "else learning_rate")
    if len(p) > 3 + n_state:  # step
        lines.append(f"        {p[-1]} = _xp.astype(count + 1, _float_dtype({g}))")
    lines += [f"        {line}" for line in staged.tree_lines]
    lines += [
        "        new_updates = jax.tree_util.tree_map(_xp.negative, "
        "treedef.unflatten(outs[0]))",
        "        new_slots = _builtins.tuple(treedef.unflatten(x) for x in outs[1:])",
        "        return new_updates, ProgramState(count=optax.safe_increment(count), "
        "slots=new_slots)",
        "",
        "    return optax.GradientTransformationExtraArgs(init_fn, update_fn)",
    ]
    doc = (f'"""{name}: an optax optimizer exported by symopt from the program:\n\n'
           f"{_program_block(program)}\n\n{_hyper_doc(staged)}\n"
           f"Use: ``tx = {name}(3e-4)`` or "
           f"``optax.inject_hyperparams({name})(learning_rate=3e-4)``.\n\"\"\"")
    imports = _JAX_IMPORTS + "import optax\n"
    support = f'''
class ProgramState(_NamedTuple):
    """The optimizer state: steps taken (int32, saturating), and the state slots."""

    count: jax.Array
    slots: _builtins.tuple


def _check_real(leaves):
    for x in leaves:
        if _xp.iscomplexobj(x):
            raise _builtins.TypeError("complex parameters are not supported: " + {_COMPLEX!r})


def _float_dtype(leaves):
    """The widest floating dtype of the leaves, at least float32 (the step's dtype)."""
    dt = _xp.dtype(_xp.float32)
    for x in leaves:
        if _xp.issubdtype(x.dtype, _xp.floating):
            dt = _xp.promote_types(dt, x.dtype)
    return dt
'''
    return (f"{doc}\n\n{imports}from typing import NamedTuple as _NamedTuple\n\n"
            f"{helper_source(staged.helpers)}\n{support}\n\n{staged.functions}\n\n"
            + "\n".join(lines) + "\n")


def export_torch(program: Program, name: str = "Optimizer") -> str:
    """A module defining ``class NAME(torch.optim.Optimizer)`` that runs the program.

    ``NAME(params, lr=1e-3, *, b1=..., ...)``: parameter groups carry ``lr``
    and every hyperparameter; each parameter's state holds ``step`` (a float32
    tensor, as torch.optim keeps it) and one tensor per state slot, under the
    slot's name. ``step(closure=None)`` applies ``p -= update`` to every
    parameter with a gradient and returns the closure's loss. Global functions
    (`global_norm`, ...) reduce over the parameters of one group; the program's
    `step` is the count of the group's first parameter. Sparse and complex
    gradients are refused with a clear error. The module imports only torch.
    """
    check_name(name)
    staged = staged_update(program)
    slot_names = _slot_names(program)
    n_state = len(slot_names)
    p = staged.params
    w, g, slots = p[0], p[1], p[2:2 + n_state]
    lr = p[2 + n_state]
    hyper = staged.hyperparameters
    sig = "".join(f", {h}={v!r}" for h, v in hyper)
    defaults = ", ".join(["lr=lr"] + [f"{h}={h}" for h, _ in hyper])
    lines = [
        f"class {name}(torch.optim.Optimizer):",
        '    """A torch optimizer exported by symopt; see the module docstring.',
        "",
        f"    {_hyper_doc(staged)}",
        f"    Per-parameter state: step, {', '.join(repr(s) for s in slot_names) or 'no slots'}.",
        '    """',
        "",
        f"    def __init__(self, params, lr=1e-3{', *' + sig if hyper else ''}):",
        "        if not _builtins.isinstance(lr, torch.Tensor) and not lr >= 0.0:",
        "            raise _builtins.ValueError(f'invalid learning rate: {lr}')",
        # `__class__`, not the class's name, which a parameter (`self`, `lr`...) may shadow
        f"        _builtins.super(__class__, self).__init__(params, _builtins.dict({defaults}))",
        "",
        "    @torch.no_grad()",
        "    def step(self, closure=None):",
        '        """One update of every parameter with a gradient; returns the closure\'s loss."""',
        "        loss = None",
        "        if closure is not None:",
        "            with torch.enable_grad():",
        "                loss = closure()",
        "        for group in self.param_groups:",
        "            params = [q for q in group['params'] if q.grad is not None]",
        "            if not params:",
        "                continue",
        "            for q in params:",
        "                if q.grad.is_sparse:",
        f"                    raise _builtins.RuntimeError('{name} does not support sparse "
        "gradients')",
        "                if q.is_complex() or q.grad.is_complex():",
        f"                    raise _builtins.RuntimeError('{name}: complex parameters are not "
        f"supported: ' + {_COMPLEX!r})",
        "            states = [self.state[q] for q in params]",
        "            for q, st in _builtins.zip(params, states):",
        "                if not st:",
        "                    st['step'] = torch.tensor(0.0)",
    ]
    for s in slot_names:
        lines.append(f"                    st[{s!r}] = torch.zeros_like("
                     "q, memory_format=torch.preserve_format)")
    lines += [
        "                st['step'] = st['step'] + 1  # a new tensor: never shared with a "
        "state_dict",
        f"            {g} = [q.grad for q in params]",
    ]
    if staged.uses_weights:
        lines.append(f"            {w} = params")
    for ident, s in zip(slots, slot_names, strict=True):
        lines.append(f"            {ident} = [st[{s!r}] for st in states]")
    lines.append(f"            {lr} = group['lr']")
    if len(p) > 3 + n_state:
        lines.append(f"            {p[-1]} = _builtins.float(states[0]['step'])")
    for h, _ in hyper:
        lines.append(f"            {h} = group[{h!r}]")
    lines += [f"            {line}" for line in staged.tree_lines]
    lines += [
        "            for q, u in _builtins.zip(params, outs[0]):",
        "                q.sub_(u)",
    ]
    for i, s in enumerate(slot_names):
        lines += [f"            for st, x in _builtins.zip(states, outs[{i + 1}]):",
                  f"                st[{s!r}].copy_(x)"]
    lines.append("        return loss")
    doc = (f'"""{name}: a torch optimizer exported by symopt from the program:\n\n'
           f"{_program_block(program)}\n\n{_hyper_doc(staged)}\n"
           f"Use: ``opt = {name}(model.parameters(), lr=3e-4)``, then ``loss.backward(); "
           f"opt.step(); opt.zero_grad()``.\n\"\"\"")
    imports = "import builtins as _builtins\n\nimport torch\n"
    return (f"{doc}\n\n{imports}\n{TORCH_NAMESPACE}\n\n{helper_source(staged.helpers)}\n\n"
            f"{staged.functions}\n\n" + "\n".join(lines) + "\n")
