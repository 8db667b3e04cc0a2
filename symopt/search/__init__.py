"""Search: mutation, random programs, regularized evolution, cache, run store, executors.

The package is also callable: ``symopt.search(seeds, task=..., budget=...)`` is
`symopt.api.search`.
"""

from symopt.search.cache import EquivalenceCache
from symopt.search.config import SearchConfig, load_config
from symopt.search.config_sections import ExecutorSection
from symopt.search.evolution import AgingPopulation, Member
from symopt.search.executor import (
    EvalJob,
    EvalOutcome,
    Executor,
    InlineExecutor,
    ProcessExecutor,
    make_executor,
)
from symopt.search.mutation import Mutation, Mutator
from symopt.search.random_programs import random_program
from symopt.search.runner import SearchResult, run_search
from symopt.search.sampling import MutationConfig
from symopt.search.store import RunStore
from symopt.search.store_schema import CandidateRecord

__all__ = [
    "AgingPopulation", "CandidateRecord", "EquivalenceCache", "EvalJob", "EvalOutcome",
    "Executor", "ExecutorSection", "InlineExecutor", "Member", "Mutation", "MutationConfig",
    "Mutator", "ProcessExecutor", "RunStore", "SearchConfig", "SearchResult", "load_config",
    "make_executor", "random_program", "run_search",
]
