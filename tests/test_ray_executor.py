"""The Ray executor against a real Ray: a local Ray from `symopt search --executor ray`, and
a two-node cluster on this machine started with `ray start` (its own free ports and temp
dirs, shut down at the end; other Ray instances on the machine are left alone)."""

import math
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from paths import builtin_file

from symopt.cli import main
from symopt.search.config.loading import SearchConfig
from symopt.search.evolution.loop import run_search
from symopt.search.execution import ray_executor
from symopt.search.execution.executor import EvalJob, ProcessExecutor, make_executor
from symopt.search.storage.cache import EquivalenceCache, task_namespace
from symopt.search.storage.store import RunStore

QUADRATIC = {"name": "quadratic", "overrides": {"steps": 20}}
# Seconds of training after the compile (which the session's compile cache can make free):
# long enough to find both actors busy and kill one.
LONG = {"name": "quadratic", "seeds": [0], "overrides": {"steps": 200_000}}


def test_unreachable_address_fails_before_the_run_exists(tmp_path, capsys):
    port = _free_port()  # nothing listens there
    assert main(["search", "--seed", builtin_file("sgd"), "--out", str(tmp_path / "r"),
                 "--executor", "ray", "--address", f"127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err
    assert f"executor.address: cannot reach '127.0.0.1:{port}'" in err
    assert not (tmp_path / "r").exists()  # no run, hence no training
    assert main(["search", "--seed", builtin_file("sgd"), "--out", str(tmp_path / "r"),
                 "--address", "auto"]) == 2
    assert "executor.address: only a Ray executor" in capsys.readouterr().err


@pytest.mark.slow
def test_local_ray_search_gives_the_process_executors_fitness_and_stays_quiet(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[search]\npopulation = 4\nbudget = 5\nworkers = 2\nrandom_seed = 3\n'
                   '[task]\nname = "quadratic"\noverrides = { steps = 20 }\n')
    run = tmp_path / "r"
    proc = subprocess.run([sys.executable, "-m", "symopt", "search", "--seed",
                           builtin_file("adamw"), "--config", str(cfg), "--out", str(run),
                           "--executor", "ray", "--progress", "plain"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    terminal = (proc.stdout + proc.stderr).replace(str(tmp_path), "TMP")
    # Ray's own lines (INFO/WARNING logs, "(raylet)" messages) stay off the terminal: "ray"
    # appears only in the progress lines' worker counts.
    assert not [ln for ln in terminal.splitlines()
                if "ray" in ln.lower() and not ln.startswith("evals ")], terminal
    assert "ray: 1 node(s)" in proc.stderr  # the progress line shows the cluster's workers
    sessions = [p for p in (run / "ray_logs").iterdir() if p.name.startswith("session_")]
    assert len(sessions) == 1 and not sessions[0].is_symlink()
    assert (sessions[0] / "raylet.out").is_file()  # Ray's logs were kept in the run

    store = RunStore.open(run)
    trained = [r for r in store.candidates() if not r.cache_hit]
    store.close()
    assert len(trained) == 5 and all(r.node_id for r in trained)
    assert trained[0].status == "ok"  # the seed trains; a child may diverge (fitness inf)
    spec = SearchConfig.from_dict({"task": QUADRATIC}).task.spec()
    process = ProcessExecutor(2)
    try:
        futures = [process.submit(EvalJob(_live_text(r.program_text), spec)) for r in trained]
        again = [process.outcome(f) for f in futures]
    finally:
        process.shutdown()
    assert [(o.fitness, o.status) for o in again] == [(r.fitness, r.status) for r in trained]


def _listening_ips(pids: list[int]) -> set[str]:
    """The local addresses the processes `pids` listen on (TCP, from /proc)."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        except OSError:
            continue
    ips = set()
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if f[3] == "0A" and f[9] in inodes:  # LISTEN
                raw = bytes.fromhex(f[1].split(":")[0])
                if v6:  # four little-endian words; ::ffff:a.b.c.d keeps a.b.c.d in the last
                    words = [raw[i:i + 4][::-1] for i in range(0, 16, 4)]
                    ips.add(socket.inet_ntop(socket.AF_INET6, b"".join(words)))
                else:
                    ips.add(socket.inet_ntoa(raw[::-1]))
    return ips


@pytest.mark.slow
def test_sigkill_of_a_ray_search_driver_leaves_no_process_of_its_cluster(tmp_path):
    """A local Ray started by a search listens on loopback only, and when its driver is
    SIGKILLed every process of the cluster (found by its temp dir) is gone within 30 s."""
    from symopt.ray_local import cluster_pids

    cfg = tmp_path / "c.toml"
    cfg.write_text('[search]\npopulation = 4\nbudget = 400\nworkers = 2\n'
                   '[task]\nname = "quadratic"\noverrides = { steps = 1000 }\n')
    run = tmp_path / "r"
    driver = subprocess.Popen([sys.executable, "-m", "symopt", "search", "--seed",
                               builtin_file("adamw"), "--config", str(cfg), "--out", str(run),
                               "--executor", "ray", "--progress", "none"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        temp = None
        while time.monotonic() < deadline and driver.poll() is None:
            logs = run / "ray_logs"
            links = [p for p in logs.iterdir() if p.is_symlink()] if logs.is_dir() else []
            if links:  # RUN/ray_logs/<session> -> <temp dir>/<session>/logs
                temp = str(Path(os.readlink(links[0])).parents[1])
                if RunStore.open(run).count() >= 1:  # the seed trained: workers are up
                    break
            time.sleep(0.5)
        assert temp is not None and driver.poll() is None, "the search did not start on Ray"
        pids = cluster_pids(temp)
        assert len(pids) >= 3  # gcs, raylet, agents, workers
        ips = _listening_ips(pids)
        assert ips and ips <= {"127.0.0.1", "::ffff:127.0.0.1"}, ips
    finally:
        driver.kill()
        driver.wait(timeout=30)
    deadline = time.monotonic() + 30
    while cluster_pids(temp) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert cluster_pids(temp) == []


# -- a two-node cluster on this machine ------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ports() -> list[str]:
    names = ("dashboard-agent-listen-port", "dashboard-agent-grpc-port", "metrics-export-port",
             "runtime-env-agent-port", "node-manager-port", "object-manager-port")
    return [f"--{name}={_free_port()}" for name in names]


class _Cluster:
    """`ray start --block` processes, each in its own process group (killed as a group)."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.procs: list[subprocess.Popen] = []
        self.temps: list[str] = []
        self.env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"

    def start_node(self, *args: str) -> Path:
        temp = tempfile.mkdtemp(prefix="symopt-test-ray-")  # short: Ray's socket paths
        log = self.tmp / f"node{len(self.procs)}.log"
        cmd = ["ray", "start", "--block", "--num-cpus=1", "--node-ip-address=127.0.0.1",
               "--disable-usage-stats", "--include-log-monitor=false", f"--temp-dir={temp}",
               *_ports(), *args]
        self.procs.append(subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT,
                                           env=self.env, start_new_session=True))
        self.temps.append(temp)
        return log

    def wait_started(self, log: Path, proc: subprocess.Popen) -> None:
        deadline = time.monotonic() + 180
        while "Ray runtime started" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)

    def node_ids(self) -> set[str]:
        """Node ids of this cluster's raylets (from their command lines)."""
        groups = {p.pid for p in self.procs}
        ids = set()
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if os.getpgid(int(pid)) not in groups:
                    continue
                args = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
            except (OSError, UnicodeDecodeError):
                continue
            if args and args[0].endswith("/raylet"):
                ids |= {a.split("=", 1)[1] for a in args if a.startswith("--node_id=")}
        return ids

    def stop(self) -> None:
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)
        for temp in self.temps:
            shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = _Cluster(tmp_path_factory.mktemp("cluster"))
    saved = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"  # the driver (this process) matches the cluster
    try:
        head = c.start_node("--head", f"--port={c.port}", "--include-dashboard=false",
                            f"--ray-client-server-port={_free_port()}")
        c.wait_started(head, c.procs[0])
        worker = c.start_node(f"--address={c.address}", "--num-gpus=1")  # a pretend GPU
        c.wait_started(worker, c.procs[1])
        yield c
    finally:
        c.stop()
        if saved is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = saved


def _cluster_config(cluster, **executor) -> SearchConfig:
    return SearchConfig.from_dict({
        "search": {"population": 4, "budget": 6, "workers": 2, "random_seed": 1},
        "task": {"name": "quadratic", "overrides": {"steps": 1000}},
        "executor": {"kind": "ray", "address": cluster.address, **executor}})


@pytest.mark.slow
def test_two_node_cluster_evaluations_land_on_both_nodes(cluster, tmp_path):
    cfg = _cluster_config(cluster)
    cfg = SearchConfig.from_dict({**cfg.to_dict(), "task": QUADRATIC})
    res = run_search(cfg, tmp_path / "r", seeds=[builtin_file("sgd")])
    store = RunStore.open(tmp_path / "r")
    trained = [r for r in store.candidates() if not r.cache_hit]
    store.close()
    assert res.stats.evaluations == len(trained) == 6
    assert {r.node_id for r in trained} == cluster.node_ids()  # one CPU each: both nodes work
    assert len(cluster.node_ids()) == 2
    notes = list((tmp_path / "r" / "ray_logs").glob("session_*.txt"))
    assert notes and cluster.address in notes[0].read_text()


@pytest.mark.slow
def test_a_killed_worker_costs_only_its_evaluation(cluster, tmp_path):
    """SIGKILL a busy Ray worker mid-search (no retries): that one evaluation is stored as an
    error and not cached, the search completes its budget, and no stored row changes."""
    cfg = _cluster_config(cluster, max_retries=0)
    run = tmp_path / "r"
    executor = make_executor(cfg.executor, cfg.search.workers, run_dir=run)
    before: list[tuple] = []

    def kill_a_busy_worker() -> bool:
        rows = _rows(run)
        busy = [w for w in executor.info if w.busy and w.up]
        if not before and len(rows) >= 2 and busy:
            before.extend(rows)
            os.kill(busy[0].pid, signal.SIGKILL)
        return False

    res = run_search(cfg, run, seeds=[builtin_file("sgd")], executor=executor,
                     stop_requested=kill_a_busy_worker)
    executor.shutdown()
    after = _rows(run)
    assert before, "the search ended before a worker could be killed"
    assert after[:len(before)] == before  # nothing stored before the kill changed
    # The budget is done (a twin waiting on the killed evaluation is trained, not failed).
    assert res.stats.evaluations == sum(not r[4] for r in after) >= 6
    died = [r for r in after if r[3] == "error"]
    assert len(died) == 1 and died[0][5].startswith("worker died 1 time(s)")
    assert died[0][2] is None  # fitness inf
    cache = sqlite3.connect(run / "cache.sqlite")
    cached = cache.execute("SELECT status FROM entries WHERE key=?", (died[0][1],)).fetchall()
    cache.close()
    # A dead worker is never the program's fitness (a twin may have trained it since).
    assert cached in ([], [("ok",)])
    twins = [r for r in after if r[1] == died[0][1] and r[0] != died[0][0]]
    assert all(r[3] == "ok" for r in twins)


@pytest.mark.slow
def test_a_killed_worker_is_retried_on_a_fresh_actor(cluster):
    """Two actors sharing the second node's (pretend) GPU: JAX keeps to its half of it."""
    executor = make_executor(_cluster_config(cluster, max_retries=1, cpus_per_eval=0.5,
                                             gpus_per_eval=0.5).executor, 2)
    try:
        text = Path(builtin_file("adam")).read_text()
        futures = [executor.submit(EvalJob(text, LONG)) for _ in range(2)]
        deadline = time.monotonic() + 120
        while not all(w.busy and w.up for w in executor.info):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert all(w.jax_memory == {"preallocate": "false", "mem_fraction": "0.5"}
                   for w in executor.info)
        assert len({w.node for w in executor.info}) == 1  # the node with the GPU
        os.kill(executor.info[0].pid, signal.SIGKILL)
        outcomes = [executor.outcome(f) for f in futures]
    finally:
        executor.shutdown()
    assert [o.status for o in outcomes] == ["ok", "ok"]
    assert sorted(o.message for o in outcomes) == ["", "(retried after 1 worker death(s))"]
    assert outcomes[0].fitness == outcomes[1].fitness and math.isfinite(outcomes[0].fitness)


# -- every wait has a bound (issue 25) ---------------------------------------------------------
# An actor that hangs in an evaluation, past anything its time limit can interrupt, is killed
# and the evaluation retried once on a fresh actor, then stored as a transient `timeout`
# (never cached) while the search completes; a pool whose actors cannot start fails its
# evaluations with the cause instead of waiting for ever. On the cluster above, with the
# bounds made small.

@pytest.mark.slow
def test_a_hung_ray_actor_is_given_up_retried_once_and_never_cached(cluster, tmp_path,
                                                                     monkeypatch):
    def hang_on_sign(text, spec):  # nested: Ray pickles it by value
        import time

        from symopt.search.evolution.loop import statement_count_fitness

        if "sign" in text:
            time.sleep(600)  # no time limit reaches into a sleep
        return statement_count_fitness(text, spec)

    monkeypatch.setattr(ray_executor, "ANSWER_SLACK_S", 2.0)  # give up at 0.5 s + 2 s
    cfg = SearchConfig.from_dict({
        "search": {"population": 4, "budget": 6, "random_seed": 1, "workers": 2},
        "mutation": {"functions": ["sign", "abs", "square"]},
        "task": {"name": "quadratic", "time_limit_s": 0.5},
        "cache": {"fingerprint": False},
        "executor": {"kind": "ray", "address": cluster.address}})
    run = tmp_path / "r"
    executor = make_executor(cfg.executor, 2, evaluate_fn=hang_on_sign, run_dir=run)
    try:
        res = run_search(cfg, run, seeds=["momentum"], executor=executor,
                         run_funnel_after=False)
    finally:
        executor.shutdown()
    rows = [r for r in RunStore.open(run).candidates() if not r.cache_hit]
    hung = [r for r in rows if "sign" in r.program_text]
    assert hung, "the search should have tried a program with sign"
    assert res.stats.evaluations == 6 and not res.seed_failed and not res.interrupted
    for r in hung:
        assert r.status == "timeout" and math.isinf(r.fitness)
        assert r.message == ("no answer from the Ray worker within its time limit plus 2s, "
                             "also when retried on a fresh worker")
    assert all(r.status == "ok" for r in rows if "sign" not in r.program_text)
    assert res.stats.transient == len(hung)
    cache = EquivalenceCache(run / "cache.sqlite", task_namespace(cfg.task.spec()))
    assert all(cache.get("hash", r.hash) is None for r in hung)  # the machine's, not theirs
    assert any(cache.get("hash", r.hash) is not None for r in rows if r.status == "ok")


@pytest.mark.slow
def test_a_pool_whose_actors_cannot_start_fails_with_the_cause(cluster, tmp_path,
                                                                monkeypatch):
    """No node has 10,000 CPUs: Ray would keep the actors pending for ever. The seed's
    evaluation fails naming the resources, so the search stops at once (seed failed)."""
    monkeypatch.setattr(ray_executor, "START_LIMIT_S", 3.0)
    cfg = SearchConfig.from_dict({
        "search": {"population": 4, "budget": 10, "workers": 1},
        "task": {"name": "quadratic", "overrides": {"steps": 20}},
        "executor": {"kind": "ray", "address": cluster.address, "cpus_per_eval": 10_000}})
    run = tmp_path / "r"
    executor = make_executor(cfg.executor, 1, run_dir=run)
    try:
        res = run_search(cfg, run, seeds=["sgd"], executor=executor, run_funnel_after=False)
    finally:
        executor.shutdown()
    assert res.stats.evaluations == 1
    assert res.seed_failed.startswith(
        "the seed sgd failed: error (Ray: no worker of the pool started within 3s (each needs "
        "cpus_per_eval = 10000 and gpus_per_eval = 0 on one node: does the cluster have them?))")
    assert res.stats.transient == 1


def _rows(run: Path) -> list[tuple]:
    try:
        con = sqlite3.connect(run / "run.sqlite")
        rows = con.execute("SELECT id, hash, fitness, status, cache_hit, message, node_id "
                           "FROM candidates ORDER BY id").fetchall()
        con.close()
        return rows
    except sqlite3.Error:
        return []


def _live_text(program_text: str) -> str:
    from symopt.lang import parse
    from symopt.search.evolution.loop import remove_dead_text

    return remove_dead_text(parse(program_text))
