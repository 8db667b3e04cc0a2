"""Programs run: compile to JAX and optax, and export as standalone code.

>>> import symopt, optax
>>> from symopt import programs
>>> tx = symopt.to_optax(programs.load("lion"), 3e-4)
>>> isinstance(tx, optax.GradientTransformation)
True
"""

from symopt.compile.compiler import update_fn
from symopt.compile.export import export_optax, export_python
from symopt.compile.hyper import Hyperparameter, hyperparameters
from symopt.compile.latex import export_latex
from symopt.compile.torch_export import export_torch
from symopt.compile.transform import (
    ProgramState,
    init_state,
    make_optimizer,
    optimizer,
    to_optax,
)

__all__ = [
    "Hyperparameter", "ProgramState", "export_latex", "export_optax", "export_python",
    "export_torch", "hyperparameters", "init_state", "make_optimizer", "optimizer", "to_optax",
    "update_fn",
]
