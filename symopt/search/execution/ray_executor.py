"""`RayExecutor`: evaluations on a pool of warm Ray actors, on this machine or a cluster.

The pool has `workers` actors (`[search] workers` = evaluations in flight), each
reserving `cpus_per_eval` CPUs and `gpus_per_eval` GPUs (fractions allowed). An actor
lives for the whole search and keeps its task objects (data, compiled functions), so
a cluster does not reload or recompile a task per candidate. A program travels as
its text and is parsed in the actor: code is never pickled. JAX in an actor does not
pre-allocate the GPU (`XLA_PYTHON_CLIENT_PREALLOCATE=false`) and, with a fraction of
a GPU, keeps to that fraction (`XLA_PYTHON_CLIENT_MEM_FRACTION`).

Faults: when an actor's process or node dies, its in-flight evaluation is retried on
a fresh actor up to `max_retries` times, then returned as an `error` outcome with
`crashed=True` (never cached as the program's fitness). Other evaluations go on. A
timeout is transient too: an evaluation that timed out on its own clock is retried once;
one that does not answer within its time limit (`job_time_limit`) plus `ANSWER_SLACK_S`
(starting an actor, compiling) has its actor killed and is retried once on a fresh actor,
then returned as a `timeout`. An actor that has not started within `START_LIMIT_S` (the
cluster has no room for its `cpus_per_eval` / `gpus_per_eval`, or its start hangs) is
killed and started again; while no actor of the pool is up, the evaluations waiting for
one are returned as `error`s naming the cause (`crashed=True`). No wait on the cluster is
without a bound.

Ray stays quiet on the terminal (`log_to_driver=False`, log level ERROR). A local
Ray (`address = ""`) is started by `symopt.ray_local`: it listens on 127.0.0.1 only and
goes with the search, also when the search is SIGKILLed (a watchdog kills the cluster's
processes). Where Ray's logs and messages go: `symopt.search.execution.ray_logs`.

All Ray calls after start-up run on one dispatcher thread; Ray's completion
callbacks only put events on its queue.

>>> worker_env(0.5)["XLA_PYTHON_CLIENT_MEM_FRACTION"]
'0.5'
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import logging
import math
import os
import queue
import shutil
import socket
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from symopt import ray_local
from symopt.errors import UserError
from symopt.search.config.sections import ExecutorSection
from symopt.search.execution.executor import (
    BatchEvalFn,
    EvalFn,
    EvalJob,
    EvalOutcome,
    _guarded,
    check_reachable,
    evaluate_text,
    job_time_limit,
)
from symopt.search.execution.ray_logs import RayLogs, session_name

LOCAL_OBJECT_STORE_BYTES = 256 * 2**20  # programs and results are small
#: Seconds an evaluation may take beyond its time limit before its actor is given up.
ANSWER_SLACK_S = 600.0
#: Seconds an actor may take to start (its worker process, imports) before it is given up.
START_LIMIT_S = 600.0


class EvalWorker:
    """One Ray actor: evaluates programs given as text; tasks stay loaded between calls."""

    def __init__(self, evaluate_fn: EvalFn | BatchEvalFn):
        import ray

        self._evaluate = evaluate_fn
        self._node = ray.get_runtime_context().get_node_id()

    def info(self) -> dict[str, Any]:
        """Where this actor runs and the JAX memory settings it got."""
        return {"node": self._node, "pid": os.getpid(), "host": socket.gethostname(),
                "preallocate": os.environ.get("XLA_PYTHON_CLIENT_PREALLOCATE"),
                "mem_fraction": os.environ.get("XLA_PYTHON_CLIENT_MEM_FRACTION")}

    def evaluate(self, program_text: str | tuple[str, ...], task_spec: dict) -> EvalOutcome:
        outcome = _guarded(self._evaluate, EvalJob(program_text, task_spec))
        return dataclasses.replace(outcome, node=self._node)


def worker_env(gpus_per_eval: float) -> dict[str, str]:
    """Environment variables of a worker: JAX takes GPU memory as needed, within its share.

    >>> worker_env(0.25)
    {'XLA_PYTHON_CLIENT_PREALLOCATE': 'false', 'XLA_PYTHON_CLIENT_MEM_FRACTION': '0.25'}
    """
    env = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    if 0 < gpus_per_eval < 1:
        env["XLA_PYTHON_CLIENT_MEM_FRACTION"] = f"{gpus_per_eval:.4g}"
    return env


@dataclasses.dataclass
class _Job:
    job: EvalJob
    future: cf.Future
    attempts: int = 0
    deaths: list[str] = dataclasses.field(default_factory=list)
    retried: bool = False  # after a timeout (once)
    note: str = ""  # why it was retried
    deadline: float = math.inf


@dataclasses.dataclass
class WorkerInfo:
    """What the driver knows about one actor of the pool."""

    node: str = ""
    pid: int = 0
    busy: bool = False
    up: bool = False
    jax_memory: dict[str, str | None] = dataclasses.field(default_factory=dict)


class RayExecutor:
    """`workers` warm Ray actors; see the module docstring."""

    def __init__(self, workers: int, section: ExecutorSection | None = None,
                 evaluate_fn: EvalFn | BatchEvalFn = evaluate_text,
                 run_dir: str | Path | None = None):
        import ray

        self.workers = workers
        self.section = section = section or ExecutorSection(kind="ray")
        self._evaluate = evaluate_fn
        self._run_dir = Path(run_dir) if run_dir is not None else None
        self._temp_dir: str | None = None
        self._local: ray_local.LocalRay | None = None
        self._owns_ray = False
        self._logs = RayLogs(self._run_dir, section.address)
        self._connect(section.address)
        self._logs.session = session_name()
        self._remote = ray.remote(EvalWorker).options(
            num_cpus=section.cpus_per_eval, num_gpus=section.gpus_per_eval, max_restarts=0,
            max_task_retries=0, runtime_env={"env_vars": worker_env(section.gpus_per_eval)})
        self._actors: list[Any] = [None] * workers
        self._started = [0.0] * workers  # when each slot's actor was asked for
        self.info = [WorkerInfo() for _ in range(workers)]
        self._idle: deque[int] = deque()
        self._pending: deque[_Job] = deque()
        self._running: dict[int, _Job] = {}  # slot -> the job its actor evaluates
        self._events: queue.Queue = queue.Queue()
        self._nodes: tuple[float, int] = (0.0, 0)
        self._closed = False
        for slot in range(workers):
            self._start_actor(slot)
        self._thread = threading.Thread(target=self._loop, name="symopt-ray", daemon=True)
        self._thread.start()

    # -- connection ----------------------------------------------------------------------
    def _connect(self, address: str) -> None:
        import ray

        if ray.is_initialized():  # the caller's Ray (e.g. from Python): use it, leave it up
            return
        check_reachable(self.section)
        kwargs: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR,
                                  "configure_logging": True}
        logging.getLogger("ray").setLevel(logging.ERROR)
        try:
            if not address:
                self._local = ray_local.start(object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                                              **kwargs)
                self._temp_dir = self._local.temp_dir
            else:
                ray.init(address=address, **kwargs)
        except Exception as err:  # noqa: BLE001 - any failure to connect is the address's
            self._remove_temp_dir()
            what = "start a local Ray" if not address else f"connect to Ray at {address!r}"
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UserError(f"executor.address: cannot {what}: {first}") from None
        self._owns_ray = True
        self._logs.temp_dir = self._temp_dir
        self._logs.capture_messages()

    # -- the interface -------------------------------------------------------------------
    def submit(self, job: EvalJob) -> cf.Future:
        future: cf.Future = cf.Future()
        self._logs.link()
        self._events.put(("submit", _Job(job, future)))
        return future

    def outcome(self, future: cf.Future) -> EvalOutcome:
        try:
            return future.result()
        except cf.CancelledError:
            return EvalOutcome(math.inf, "error", "cancelled", crashed=True)

    def status(self) -> str:
        """E.g. `ray: 2 nodes, 3/4 workers busy (1 waiting for resources); node 1a2b3c: 2/2`."""
        now = time.monotonic()
        if now - self._nodes[0] > 5.0:
            self._nodes = (now, _alive_nodes())
        up = [w for w in self.info if w.up]
        per_node: dict[str, list[int]] = {}
        for w in up:
            busy_total = per_node.setdefault(w.node[:6], [0, 0])
            busy_total[0] += w.busy
            busy_total[1] += 1
        line = (f"ray: {self._nodes[1]} node(s), {sum(w.busy for w in up)}/{self.workers} "
                f"workers busy")
        if len(up) < self.workers:
            line += f" ({self.workers - len(up)} starting or waiting for resources)"
        return line + "".join(f"; node {n}: {b}/{t}" for n, (b, t) in sorted(per_node.items()))

    def shutdown(self, cancel: bool = False) -> None:
        if self._closed:
            return
        self._closed = True
        self._events.put(("stop", cancel))
        self._thread.join(timeout=60.0)
        import ray

        for actor in self._actors:
            if actor is not None:
                try:
                    ray.kill(actor, no_restart=True)
                except Exception:  # noqa: BLE001, S110 - already gone
                    pass
        if self._local is not None:
            self._local.shutdown()  # and what Ray leaves behind
        elif self._owns_ray:
            ray.shutdown()
        self._logs.close()
        self._remove_temp_dir()

    # -- the dispatcher thread -------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            try:
                event = self._events.get(timeout=1.0)
            except queue.Empty:
                event = ("tick",)
            kind = event[0]
            if kind == "stop":
                for job in self._pending:
                    job.future.cancel()
                self._pending.clear()
                return
            try:
                if kind == "submit":
                    self._pending.append(event[1])
                elif kind == "info":
                    self._on_info(*event[1:])
                elif kind == "done":
                    self._on_done(*event[1:])
                self._expire()
                self._dispatch()
            except Exception as err:  # noqa: BLE001 - e.g. the cluster is gone: fail, not hang
                self._logs.note(f"(symopt) dispatcher: {_first_line(err)}")
                for job in self._pending:
                    if job.attempts or job.future.set_running_or_notify_cancel():
                        job.future.set_result(EvalOutcome(
                            math.inf, "error", f"Ray: {_first_line(err)}", crashed=True))
                self._pending.clear()

    def _start_actor(self, slot: int) -> None:
        actor: Any = self._remote.remote(self._evaluate)
        self._actors[slot] = actor
        self._started[slot] = time.monotonic()
        self.info[slot] = WorkerInfo()
        fut = actor.info.remote().future()
        fut.add_done_callback(lambda f, s=slot, a=actor: self._events.put(("info", s, a, f)))

    def _on_info(self, slot: int, actor, fut: cf.Future) -> None:
        if actor is not self._actors[slot]:
            return  # an actor replaced meanwhile
        try:
            got = fut.result()
        except Exception:  # noqa: BLE001 - a dead actor: the next evaluation replaces it
            got = None
        if got is not None:
            self.info[slot] = WorkerInfo(node=got["node"], pid=got["pid"], up=True, jax_memory={
                "preallocate": got["preallocate"], "mem_fraction": got["mem_fraction"]})
        if slot not in self._idle and not self.info[slot].busy:
            self._idle.append(slot)

    def _dispatch(self) -> None:
        while self._pending and self._idle:
            slot, job = self._idle.popleft(), self._pending.popleft()
            if not job.attempts and not job.future.set_running_or_notify_cancel():
                self._idle.appendleft(slot)
                continue
            actor = self._actors[slot]
            self.info[slot].busy = True
            job.attempts += 1
            job.deadline = (time.monotonic() + job_time_limit(job.job.task_spec)
                            + ANSWER_SLACK_S)
            self._running[slot] = job
            ref = actor.evaluate.remote(job.job.program_text, job.job.task_spec)
            ref.future().add_done_callback(
                lambda f, s=slot, j=job: self._events.put(("done", s, j, f)))

    def _expire(self) -> None:
        """Give up the actors whose evaluation is past its deadline (module docstring)."""
        import ray

        now = time.monotonic()
        for slot, job in list(self._running.items()):
            if now < job.deadline:
                continue
            del self._running[slot]
            ray.kill(self._actors[slot], no_restart=True)
            self._start_actor(slot)
            why = (f"no answer from the Ray worker within its time limit plus "
                   f"{ANSWER_SLACK_S:g}s")
            if not job.retried:
                job.retried = True
                job.note = why
                self._pending.appendleft(job)
            else:
                job.future.set_result(EvalOutcome(
                    math.inf, "timeout", f"{why}, also when retried on a fresh worker",
                    crashed=True))
        self._expire_starts(now)

    def _expire_starts(self, now: float) -> None:
        """Give up the actors not started within `START_LIMIT_S`; while none is up, the
        evaluations waiting for one fail (module docstring)."""
        import ray

        late = [slot for slot, w in enumerate(self.info)
                if not w.up and slot not in self._idle and slot not in self._running
                and now - self._started[slot] > START_LIMIT_S]
        for slot in late:
            ray.kill(self._actors[slot], no_restart=True)
            self._start_actor(slot)
        if not late or any(w.up for w in self.info):
            return
        s = self.section
        why = (f"Ray: no worker of the pool started within {START_LIMIT_S:g}s (each needs "
               f"cpus_per_eval = {s.cpus_per_eval:g} and gpus_per_eval = "
               f"{s.gpus_per_eval:g} on one node: does the cluster have them?)")
        for job in self._pending:
            if job.attempts or job.future.set_running_or_notify_cancel():
                job.future.set_result(EvalOutcome(math.inf, "error", why, crashed=True))
        self._pending.clear()

    def _on_done(self, slot: int, job: _Job, fut: cf.Future) -> None:
        import ray

        if self._running.get(slot) is not job:
            return  # given up at its deadline (`_expire`); its actor is gone
        del self._running[slot]
        self.info[slot].busy = False
        try:
            outcome = fut.result()
        except ray.exceptions.RayTaskError as err:  # the function raised past `_guarded`
            outcome = EvalOutcome(math.inf, "error", _first_line(err), crashed=True)
        except Exception as err:  # noqa: BLE001 - the worker (process or node) died
            job.deaths.append(_first_line(err))
            ray.kill(self._actors[slot], no_restart=True)
            self._start_actor(slot)
            if job.attempts <= self.section.max_retries:
                self._pending.appendleft(job)
                return
            outcome = EvalOutcome(math.inf, "error", f"worker died {len(job.deaths)} time(s): "
                                  f"{job.deaths[-1]}", crashed=True)
        else:
            self._idle.append(slot)
            if outcome.status == "timeout" and not job.retried:  # transient: once more
                job.retried = True
                job.note = f"timeout: {outcome.message}"
                self._pending.appendleft(job)
                return
            if job.deaths:
                outcome = dataclasses.replace(outcome, message=(
                    outcome.message + f" (retried after {len(job.deaths)} worker death(s))"
                ).strip())
            if job.note:
                outcome = dataclasses.replace(outcome, message=(
                    outcome.message + f" (retried once after a transient failure: {job.note})"
                ).strip())
        job.future.set_result(outcome)

    def _remove_temp_dir(self) -> None:
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None
            self._local = None


def _alive_nodes() -> int:
    import ray

    try:
        return sum(1 for n in ray.nodes() if n.get("Alive"))
    except Exception:  # noqa: BLE001 - display only
        return 0


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")
