"""Notes, tables and plots of runs and evaluations."""
