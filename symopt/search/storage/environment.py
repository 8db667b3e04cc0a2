"""Where a run was made: the machine, the JAX backend and the versions, as plain data.

A new run stores `environment()` in its store's `meta` table (key `environment`), so a
write-up can say what machine and software a search ran on without guessing later.
The backend is read only when JAX is already imported (the search has built its task by
then); nothing here imports JAX.

>>> env = environment()
>>> sorted(env)[:3], env["python"].count(".") >= 1
(['backend', 'cpus', 'devices'], True)
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

#: Packages whose versions a run records (those not installed are left out).
PACKAGES = ("symopt", "jax", "jaxlib", "optax", "flax", "numpy", "ray")


def environment() -> dict[str, Any]:
    """The machine, backend and package versions of this process (JSON-able)."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    backend, devices = None, []
    jax = sys.modules.get("jax")
    if jax is not None:
        try:
            backend = jax.default_backend()
            devices = sorted({d.device_kind for d in jax.devices()})
        except Exception:  # a broken accelerator set-up: the run still goes on
            backend = None
    return {"platform": platform.platform(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "python": platform.python_version(), "backend": backend,
            "devices": devices, "versions": versions}
