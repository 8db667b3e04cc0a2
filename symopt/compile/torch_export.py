"""A program as a standalone ``torch.optim.Optimizer`` subclass, that behaves as torch's own.

What torch code expects of an optimizer, the exported class does as ``torch.optim.AdamW``:

- each parameter has its own ``state['step']``, and the program's `step` is that
  parameter's count (a layer unfrozen later starts its bias correction at 1);
- the keyword arguments torch's optimizers take: ``maximize`` (ascend),
  ``foreach`` (accepted: a per-parameter loop computes the same result),
  ``capturable``, ``differentiable`` and ``fused`` (``False``/``None``; ``True`` is a
  `ValueError` saying why);
- hyperparameters validated as torch does, a `ValueError` naming the argument: ``lr >= 0``
  (a Tensor lr of one element), ``0 <= b < 1`` for the moving-average decays whose default
  lies there, ``eps >= 0`` and ``weight_decay >= 0`` where the default is, finite numbers
  otherwise;
- a program with decays ``b1, b2, ...`` exposes them as ``betas=(b1, b2, ...)`` too (one
  decay: ``momentum``), in the constructor and in every parameter group, kept in sync with
  ``b1``, ``b2``: the one changed since the last step wins. So ``OneCycleLR`` and
  ``CyclicLR``, which cycle ``betas[0]`` or ``momentum``, drive it as they drive AdamW/SGD.

>>> from symopt import programs
>>> src = export_torch(programs.load("adamw"), name="AdamW")
>>> "def __init__(self, params, lr=1e-3, *, b1=0.9, b2=0.999, eps=1e-08, " in src
True
>>> "betas=None, maximize=False, foreach=None, capturable=False" in src
True
"""

from __future__ import annotations

import re

from symopt.compile.codegen import check_name, staged_update
from symopt.compile.codegen_support import TORCH_NAMESPACE, helper_source
from symopt.compile.export import _COMPLEX, _hyper_doc, _program_block, _slot_names
from symopt.lang.model import Program

#: The list of per-parameter step counts the generated `step` binds (`staged_update`).
_LEAF_STEPS = "leaf_steps"

_SUPPORT = '''
def _number(name, value, low=None, high=None):
    """`value` as a float; a ValueError naming `name` unless finite and in [low, high)."""
    try:
        x = _builtins.float(value)
    except (_builtins.TypeError, _builtins.ValueError, _builtins.RuntimeError):
        raise _builtins.ValueError(f"Invalid {name} value: {value!r} (expected a number)"
                                   ) from None
    if not _builtins.abs(x) < _builtins.float("inf"):
        raise _builtins.ValueError(f"Invalid {name} value: {value!r} (expected a finite number)")
    if low is not None and not low <= x:
        raise _builtins.ValueError(f"Invalid {name} value: {value!r} (must be >= {low})")
    if high is not None and not x < high:
        raise _builtins.ValueError(f"Invalid {name} value: {value!r} (must be < {high})")
    return x


def _check_lr(lr):
    if _builtins.isinstance(lr, torch.Tensor) and lr.numel() != 1:
        raise _builtins.ValueError("Tensor lr must be 1-element")
    try:
        x = _builtins.float(lr)
    except (_builtins.TypeError, _builtins.ValueError, _builtins.RuntimeError):
        x = None
    if x is None or not 0.0 <= x:
        raise _builtins.ValueError(f"Invalid learning rate: {lr!r}")


def _check_options(cls, maximize, foreach, capturable, differentiable, fused):
    """torch.optim's keyword arguments: what this class can honour, or why not."""
    for name, value in (("maximize", maximize), ("capturable", capturable),
                        ("differentiable", differentiable)):
        if value not in (True, False):
            raise _builtins.ValueError(f"Invalid {name} value: {value!r} (True or False)")
    for name, value in (("foreach", foreach), ("fused", fused)):
        if value not in (None, True, False):
            raise _builtins.ValueError(f"Invalid {name} value: {value!r} (None, True or False)")
    if capturable:
        raise _builtins.ValueError(f"{cls} does not support capturable=True (CUDA graph "
                                   "capture): it reads each parameter's step on the host")
    if differentiable:
        raise _builtins.ValueError(f"{cls} does not support differentiable=True: its step "
                                   "runs under torch.no_grad()")
    if fused:
        raise _builtins.ValueError(f"{cls} has no fused implementation: pass fused=None")


def _values(name, value, n):
    """`betas` (n values) or `momentum` (one) as a tuple of n values."""
    if n == 1 and name == "momentum":
        return (value,)
    try:
        out = _builtins.tuple(value)
    except _builtins.TypeError:
        out = None
    if out is None or _builtins.len(out) != n:
        raise _builtins.ValueError(f"Invalid {name} value: {value!r} (expected {n} values)")
    return out
'''


def _ranges(hyper) -> dict[str, tuple[float | None, float | None]]:
    """The range each hyperparameter must stay in, as torch checks its own (module doc)."""
    out: dict[str, tuple[float | None, float | None]] = {}
    for h, v in hyper:
        if re.fullmatch(r"b\d+", h) and 0.0 <= v < 1.0:
            out[h] = (0.0, 1.0)
        elif re.fullmatch(r"(eps|weight_decay)\d*", h) and v >= 0.0:
            out[h] = (0.0, None)
        else:
            out[h] = (None, None)
    return out


def _alias(hyper) -> tuple[str, tuple[str, ...]] | None:
    """``("betas", ("b1", "b2"))``, ``("momentum", ("b1",))`` or None (no decays)."""
    decays = tuple(h for h, _ in hyper if re.fullmatch(r"b\d+", h))
    if not decays:
        return None
    return ("betas", decays) if len(decays) > 1 else ("momentum", decays)


def _alias_methods(name: str, alias: tuple[str, tuple[str, ...]] | None) -> list[str]:
    if alias is None:
        return []
    key, names = alias
    own = f"({', '.join(f'group[{n!r}]' for n in names)},)"
    packed = "own" if key == "betas" else "own[0]"
    return [
        "    def add_param_group(self, param_group):",
        f"        if {key!r} in param_group:  # given: it sets {', '.join(names)}",
        f"            values = _values({key!r}, param_group[{key!r}], {len(names)})",
        *(f"            param_group[{n!r}] = values[{i}]" for i, n in enumerate(names)),
        "        _builtins.super(__class__, self).add_param_group(param_group)",
        "        group = self.param_groups[-1]",
        f"        own = {own}",
        f"        group[{key!r}] = {packed}  # {', '.join(names)} hold the values now",
        "        self._sync(group)",
        "",
        "    def _sync(self, group):",
        f'        """{key!r} and {", ".join(names)} name the same values: the one changed since '
        'the last sync wins."""',
        "        synced = self.__dict__.setdefault('_synced', {})",
        f"        own = {own}",
        f"        given = _values({key!r}, group[{key!r}], {len(names)})",
        "        if given != own and synced.get(_builtins.id(group)) != given:",
        "            own = given  # set since the last sync (by a scheduler, say)",
        *(f"            group[{n!r}] = own[{i}]" for i, n in enumerate(names)),
        f"        group[{key!r}] = {packed}",
        "        synced[_builtins.id(group)] = own",
        "",
    ]


def export_torch(program: Program, name: str = "Optimizer") -> str:
    """A module defining ``class NAME(torch.optim.Optimizer)`` that runs the program.

    ``NAME(params, lr=1e-3, *, b1=..., ..., betas=None, maximize=False, foreach=None,
    capturable=False, differentiable=False, fused=None)`` (``betas`` or ``momentum`` only
    for a program with decays; module docstring): parameter groups carry ``lr``, every
    hyperparameter and those options; each parameter's state holds ``step`` (a tensor,
    as torch.optim keeps it) and one tensor per state slot, under the slot's name.
    ``step(closure=None)`` applies ``p -= update`` to every parameter with a gradient,
    each with its own step count, and returns the closure's loss. Global functions
    (`global_norm`, ...) reduce over the parameters of one group (and read the group's
    largest step count). Sparse and complex gradients are refused with a clear error. The
    module imports only torch.
    """
    check_name(name)
    staged = staged_update(program, leaf_steps=_LEAF_STEPS)
    slot_names = _slot_names(program)
    n_state = len(slot_names)
    p = staged.params
    w, g, slots = p[0], p[1], p[2:2 + n_state]
    lr = p[2 + n_state]
    hyper = staged.hyperparameters
    alias = _alias(hyper)
    options = ("maximize=False, foreach=None, capturable=False, differentiable=False, "
               "fused=None")
    alias_arg = f"{alias[0]}=None, " if alias else ""
    sig = "".join(f"{h}={v!r}, " for h, v in hyper)
    defaults = ", ".join(["lr=lr"] + [f"{h}={h}" for h, _ in hyper]
                         + ([f"{alias[0]}=({', '.join(alias[1])},)" if alias[0] == "betas"
                             else f"momentum={alias[1][0]}"] if alias else [])
                         + [f"{o}={o}" for o in ("maximize", "foreach", "capturable",
                                                 "differentiable", "fused")])
    lines = [
        f"class {name}(torch.optim.Optimizer):",
        '    """A torch optimizer exported by symopt; see the module docstring.',
        "",
        f"    {_hyper_doc(staged)}",
        f"    Per-parameter state: step, {', '.join(repr(s) for s in slot_names) or 'no slots'}.",
        '    """',
        "",
        f"    def __init__(self, params, lr=1e-3, *, {sig}{alias_arg}{options}):",
    ]
    if alias:
        key, names = alias
        lines += [f"        if {key} is not None:",
                  f"            {', '.join(names)}, = _values({key!r}, {key}, {len(names)})"]
    lines.append("        _check_lr(lr)")
    for h, (low, high) in _ranges(hyper).items():
        lines.append(f"        {h} = _number({h!r}, {h}, {low!r}, {high!r})")
    lines += [
        f"        _check_options({name!r}, maximize, foreach, capturable, differentiable, "
        "fused)",
        f"        _builtins.super(__class__, self).__init__(params, _builtins.dict({defaults}))",
        "",
        "    def __setstate__(self, state):  # an older checkpoint lacks the options",
        "        _builtins.super(__class__, self).__setstate__(state)",
        "        for group in self.param_groups:",
        "            for key, value in (('maximize', False), ('foreach', None), "
        "('capturable', False),",
        "                               ('differentiable', False), ('fused', None)):",
        "                group.setdefault(key, value)",
        *([f"            group.setdefault({alias[0]!r}, "
           + (f"({', '.join(f'group[{n!r}]' for n in alias[1])},))"
              if alias[0] == "betas" else f"group[{alias[1][0]!r}])")] if alias else []),
        "",
        *_alias_methods(name, alias),
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
    ]
    if alias:
        lines.append("            self._sync(group)")
    lines += [
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
        f"            {g} = [-q.grad if group['maximize'] else q.grad for q in params]",
    ]
    if staged.uses_weights:
        lines.append(f"            {w} = params")
    for ident, s in zip(slots, slot_names, strict=True):
        lines.append(f"            {ident} = [st[{s!r}] for st in states]")
    lines.append(f"            {lr} = group['lr']")
    if len(p) > 3 + n_state:  # step: each parameter's own (staged_update's leaf_steps)
        lines += [f"            {_LEAF_STEPS} = [_builtins.float(st['step']) for st in states]",
                  f"            {p[-1]} = _builtins.max({_LEAF_STEPS})"]
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
    alias_doc = (f"``{alias[0]}`` is {', '.join(alias[1])}, kept in sync (lr schedulers that "
                 f"cycle momentum use it).\n" if alias else "")
    doc = (f'"""{name}: a torch optimizer exported by symopt from the program:\n\n'
           f"{_program_block(program)}\n\n{_hyper_doc(staged)}\n{alias_doc}"
           f"Use: ``opt = {name}(model.parameters(), lr=3e-4)``, then ``loss.backward(); "
           f"opt.step(); opt.zero_grad()``.\n\"\"\"")
    imports = "import builtins as _builtins\n\nimport torch\n"
    return (f"{doc}\n\n{imports}\n{TORCH_NAMESPACE}\n\n{helper_source(staged.helpers)}\n"
            f"{_SUPPORT}\n\n{staged.functions}\n\n" + "\n".join(lines) + "\n")
