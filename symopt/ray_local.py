"""A local Ray that symopt starts: loopback only, stopped with its driver, nothing left behind.

`start(**ray_init_kwargs)` starts a private Ray cluster for this process
(``ray.init(address="local")``, no dashboard) in a fresh temp dir and returns a `LocalRay`:

- Every server of the cluster listens on 127.0.0.1 only: Ray's single-machine mode
  (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, in which Ray takes the loopback address as the
  node's address) is set for the cluster's processes and for this driver.
- Every process of the cluster carries ``SYMOPT_RAY_CLUSTER=<its temp dir>`` in the
  environment it started with; that, never a process name, identifies it (`cluster_pids`).
- A watchdog process, in a session of its own, waits for the driver to end in any way
  (SIGKILL included: it notices that its parent is gone) and then kills every process of
  the cluster and removes the temp dir.
- `LocalRay.shutdown()` calls ``ray.shutdown()``, kills what Ray leaves behind (its agents
  outlive a driver), stops the watchdog; `LocalRay.remove()` deletes the temp dir.

Every wait here has a bound (`KILL_WAIT_S`). This module imports nothing from symopt and
runs as the watchdog script itself (``python -I ray_local.py WATCH DRIVER_PID TEMP_DIR``).

>>> cluster_pids("/nonexistent/symopt-ray-none")
[]
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

MARKER = "SYMOPT_RAY_CLUSTER"
#: Ray's switch to its single-machine mode (loopback addresses only).
LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
#: How long a kill waits for the cluster's processes to be gone.
KILL_WAIT_S = 15.0
#: The temp dirs of the clusters this process started, in order (for tests and reports).
STARTED: list[str] = []


def cluster_pids(temp_dir: str) -> list[int]:
    """Processes of the cluster living in `temp_dir` (by the environment they started with)."""
    needle = f"{MARKER}={temp_dir}".encode() + b"\0"
    me = os.getpid()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as f:
                if needle in f.read() + b"\0":
                    found.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def kill_cluster(temp_dir: str, wait_s: float = KILL_WAIT_S) -> list[int]:
    """SIGKILL every process of the cluster until none is left (at most `wait_s` s); returns
    those still there at the end (none, normally)."""
    deadline = time.monotonic() + wait_s
    while True:
        pids = [p for p in cluster_pids(temp_dir) if not _zombie(p)]
        if not pids or time.monotonic() > deadline:
            return pids
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.2)


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return True


class LocalRay:
    """A local Ray cluster of this process (see the module docstring)."""

    def __init__(self, temp_dir: str, watchdog: subprocess.Popen | None):
        self.temp_dir = temp_dir
        self._watchdog = watchdog

    def shutdown(self) -> None:
        """Stop Ray, the cluster's processes and the watchdog (idempotent)."""
        import ray

        try:
            ray.shutdown()
        finally:
            kill_cluster(self.temp_dir)
            if self._watchdog is not None:
                self._watchdog.kill()
                self._watchdog.wait(timeout=KILL_WAIT_S)
                self._watchdog = None

    def remove(self) -> None:
        """Delete the cluster's temp dir (after `shutdown`; logs copied out first)."""
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def start(**ray_init_kwargs: Any) -> LocalRay:
    """Start a private local Ray (the module docstring); ``ray_init_kwargs`` go to
    ``ray.init`` (e.g. ``num_cpus``, ``object_store_memory``, ``log_to_driver``)."""
    import ray
    import ray._private.ray_constants as ray_constants

    temp_dir = tempfile.mkdtemp(prefix="symopt-ray-", dir="/tmp")  # short: Ray's socket paths
    STARTED.append(temp_dir)
    saved = {k: os.environ.get(k) for k in (*LOOPBACK, MARKER)}
    os.environ.update({**LOOPBACK, MARKER: temp_dir})
    ray_constants.ENABLE_RAY_CLUSTER = False  # this driver too: read when Ray resolves its IP
    watchdog = None
    try:
        watchdog = _start_watchdog(temp_dir)
        ray.init(address="local", include_dashboard=False, _temp_dir=temp_dir,
                 **ray_init_kwargs)
    except BaseException:
        LocalRay(temp_dir, watchdog).shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    finally:
        for k, v in saved.items():  # what this process starts later is not the cluster's
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return LocalRay(temp_dir, watchdog)


def _start_watchdog(temp_dir: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != MARKER}
    return subprocess.Popen([sys.executable, "-I", os.path.abspath(__file__), "WATCH",
                             str(os.getpid()), temp_dir],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True, env=env,
                            close_fds=True)


def _watch(driver: int, temp_dir: str) -> None:
    """The watchdog: when the driver is gone, the cluster goes too."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while os.getppid() == driver:
        time.sleep(0.5)
    kill_cluster(temp_dir)
    shutil.rmtree(temp_dir, ignore_errors=True)


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "WATCH":
    _watch(int(sys.argv[2]), sys.argv[3])
