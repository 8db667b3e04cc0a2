"""The evolution stage: the population, mutation and its draws, how children are proposed,
preparing a candidate (dead code, hash, fingerprint, cache), hurdles, progress, and the
search loop itself (`loop.run_search`)."""
