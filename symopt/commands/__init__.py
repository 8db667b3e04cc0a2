"""The `symopt` verbs, one module each (see symopt/cli.py)."""
