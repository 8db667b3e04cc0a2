"""Search: mutation, random programs, regularized evolution, cache, run store, executors.

The package is also callable: ``symopt.search(seeds, task=..., budget=...)`` is
`symopt.api.search`.
"""

from symopt.search.config.loading import SearchConfig, load_config
from symopt.search.config.sections import ExecutorSection, MutationConfig
from symopt.search.evolution.loop import SearchResult, run_search
from symopt.search.evolution.mutation import Mutation, Mutator
from symopt.search.evolution.population import AgingPopulation, Member
from symopt.search.evolution.random_programs import random_program
from symopt.search.execution.executor import (
    EvalJob,
    EvalOutcome,
    Executor,
    InlineExecutor,
    ProcessExecutor,
    make_executor,
)
from symopt.search.storage.cache import EquivalenceCache
from symopt.search.storage.schema import CandidateRecord
from symopt.search.storage.store import RunStore

__all__ = [
    "AgingPopulation", "CandidateRecord", "EquivalenceCache", "EvalJob", "EvalOutcome",
    "Executor", "ExecutorSection", "InlineExecutor", "Member", "Mutation", "MutationConfig",
    "Mutator", "ProcessExecutor", "RunStore", "SearchConfig", "SearchResult", "load_config",
    "make_executor", "random_program", "run_search",
]
