"""Search: mutation, random programs, regularized evolution, cache, run store, executors."""

from symopt.search.mutation import Mutation, MutationConfig, Mutator
from symopt.search.random_programs import random_program

__all__ = ["Mutation", "MutationConfig", "Mutator", "random_program"]
