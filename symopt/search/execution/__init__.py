"""Where training runs happen: executors (inline, local processes, Ray actors), batching
of jobs into one compiled call, dispatching candidates, Ctrl-C."""
