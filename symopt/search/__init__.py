"""Search: mutation, random programs, regularized evolution, cache, run store, executors."""

from symopt.search.mutation import Mutation, MutationConfig, Mutator
from symopt.search.random_programs import random_program

__all__ = ["Mutation", "MutationConfig", "Mutator", "random_program"]

# Regularized evolution, cache, store, executors (issue 6 part B).
from symopt.search.cache import EquivalenceCache  # noqa: E402
from symopt.search.config import SearchConfig, load_config  # noqa: E402
from symopt.search.evolution import AgingPopulation, Member  # noqa: E402
from symopt.search.executor import (  # noqa: E402
    EvalJob, EvalOutcome, Executor, InlineExecutor, ProcessExecutor, make_executor,
)
from symopt.search.runner import SearchResult, run_search  # noqa: E402
from symopt.search.store import CandidateRecord, RunStore  # noqa: E402

__all__ += [
    "AgingPopulation", "CandidateRecord", "EquivalenceCache", "EvalJob", "EvalOutcome",
    "Executor", "InlineExecutor", "Member", "ProcessExecutor", "RunStore", "SearchConfig",
    "SearchResult", "load_config", "make_executor", "run_search",
]
