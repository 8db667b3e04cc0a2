"""Proxy tasks and the evaluator: fitness = validation loss of a short training run.

>>> import optax
>>> from symopt.tasks import evaluate, get_task
>>> evaluate(lambda lr: optax.adamw(lr), get_task("logreg", steps=50)).status
'ok'
"""

from symopt.tasks.base import EvalResult, Task
from symopt.tasks.registry import get_task, list_tasks, register_task
from symopt.tasks.train import evaluate

__all__ = ["EvalResult", "Task", "evaluate", "get_task", "list_tasks", "register_task"]
