"""Programs as standalone Python: an optax optimizer module, or a plain update function.

The generated modules import only `jax`, `jax.numpy` and `optax`. Code is
built from the program model by `symopt.compile.codegen`; the program's text
appears only in the docstring, as `symopt.lang.to_text` prints it (escaped).

>>> from symopt import programs
>>> src = export_optax(programs.load("lion"), name="lion")
>>> "def lion(learning_rate, *, c1=0.9, c2=0.1, c3=0.1, c4=0.99):" in src
True
"""

from __future__ import annotations

from symopt.compile.codegen import check_name, helper_source, leaf_function, staged_update
from symopt.lang.model import Program
from symopt.lang.printer import to_text


def _program_block(program: Program) -> str:
    text = to_text(program, header=False).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return "\n".join("    " + line for line in text.splitlines())


def _hyper_doc(code) -> str:
    if not code.hyperparameters:
        return "The program has no constants."
    pairs = ", ".join(f"{i}={v!r}" for i, v in code.hyperparameters)
    return f"Hyperparameters (the program's constants, in order): {pairs}."


_GLOBAL_NOTE = ("Global functions (global_norm, clip_by_global_norm) reduce over the one "
                "array given,\nnot over a whole parameter tree.\n")


def export_python(program: Program, name: str = "update") -> str:
    """A module defining ``NAME(w, g, <state...>, lr[, step], *, c1=..., ...)`` over arrays.

    It returns ``(update, new_state...)``; the training loop applies ``w - update``.
    Limitation: the function sees one array, so global functions (`global_norm`,
    `clip_by_global_norm`) reduce over that array only; they equal the compiler's
    (which reduces over the whole parameter tree) only for a one-array model. The
    generated module says so; use ``export_optax`` for the tree-wide semantics.

    >>> from symopt import programs
    >>> print(export_python(programs.load("sgd"), name="sgd").split("\\n\\n\\n")[-1])
    def sgd(w_, g_, lr_):
        dt = g_.dtype
        lr_ = _cast(lr_, dt)
        update_ = g_ * lr_
        return update_.astype(dt),
    <BLANKLINE>
    """
    check_name(name)
    leaf = leaf_function(program, name)
    doc = (f'"""{name}: an update rule exported by symopt from the program:\n\n'
           f"{_program_block(program)}\n\n{_hyper_doc(leaf)}\n"
           f"Parameters are renamed with a trailing underscore; ``w - update`` is the step.\n"
           + (_GLOBAL_NOTE if leaf.has_global else "") + '"""')
    imports = "import jax\nimport jax.numpy as jnp\n"
    return f"{doc}\n\n{imports}\n{helper_source(leaf.helpers)}\n\n{leaf.source}"


def export_optax(program: Program, name: str = "optimizer") -> str:
    """A module defining ``NAME(learning_rate, *, c1=..., ...) -> optax.GradientTransformation``.

    `learning_rate` is a float or an optax schedule; the constants are keyword
    hyperparameters, so the factory works with `optax.inject_hyperparams`.
    The update runs in stages (`symopt.compile.codegen.staged_update`):
    per-leaf functions mapped over the leaves, and global functions
    (`global_norm`, `clip_by_global_norm`) over the whole tree between them,
    as `symopt.compile.to_optax` runs the program.
    """
    check_name(name)
    staged = staged_update(program)
    hp_sig = "".join(f", {i}={v!r}" for i, v in staged.hyperparameters)
    lines = [
        f"def {name}(learning_rate{', *' + hp_sig if staged.hyperparameters else ''}):",
        '    """The exported optimizer; `learning_rate` is a float or an optax schedule.',
        "",
        f"    {_hyper_doc(staged)}",
        "    State: (count, (one pytree per state slot)); update returns -update.",
        '    """',
        "",
        "    def init_fn(params):",
        "        slots = tuple(jax.tree_util.tree_map(jnp.zeros_like, params)"
        f" for _ in range({program.n_state}))",
        "        return jnp.zeros([], jnp.int32), slots",
        "",
        "    def update_fn(updates, state, params=None):",
        "        count, slots = state",
    ]
    if staged.uses_weights:
        lines += ["        if params is None:",
                  f"            raise ValueError('{name} reads the weights: pass params')"]
    lines += [f"        {line}" for line in staged.tree_lines]
    lines += [
        "        new_updates = jax.tree_util.tree_map(jnp.negative, treedef.unflatten(outs[0]))",
        "        new_slots = tuple(treedef.unflatten(x) for x in outs[1:])",
        "        next_count = jnp.where(count < jnp.iinfo(jnp.int32).max, count + 1, count)",
        "        return new_updates, (next_count, new_slots)",
        "",
        "    return optax.GradientTransformation(init_fn, update_fn)",
    ]
    doc = (f'"""{name}: an optax optimizer exported by symopt from the program:\n\n'
           f"{_program_block(program)}\n\n{_hyper_doc(staged)}\n"
           f"Use: ``tx = {name}(3e-4)`` or "
           f"``optax.inject_hyperparams({name})(learning_rate=3e-4)``.\n\"\"\"")
    imports = "import jax\nimport jax.numpy as jnp\nimport optax\n"
    return (f"{doc}\n\n{imports}\n{helper_source(staged.helpers)}\n\n{staged.functions}\n\n"
            + "\n".join(lines) + "\n")
