"""Ctrl-C for a search, the same from the command line and from Python (a notebook's
"interrupt kernel" sends the same SIGINT).

Inside `stop_on_sigint()`, a first Ctrl-C asks the search to stop: it generates no more
candidates, collects the training runs in flight, stores them and writes its outputs.
A second Ctrl-C raises `KeyboardInterrupt` at once (in-flight work is lost; everything
stored stays). Outside the main thread, where signals cannot be caught, nothing changes.

>>> with stop_on_sigint() as stop_requested:
...     stop_requested()
False
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def stop_on_sigint() -> Iterator[Callable[[], bool]]:
    """Yields ``stop_requested()``, true once Ctrl-C was pressed (see the module docstring)."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop.is_set
        return

    def on_sigint(signum, frame):
        stop.set()
        print("\nsymopt: stopping after the evaluations in flight (Ctrl-C again to quit now)",
              file=sys.stderr)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield stop.is_set
    finally:
        signal.signal(signal.SIGINT, previous)
