"""Where a search on Ray keeps Ray's logs and messages (`RUN/ray_logs/`).

A local Ray lives in a temporary directory: its logs are linked from
`RUN/ray_logs/<session>` while the search runs and copied there at the end (the temporary
directory goes with the cluster). With an existing cluster, `RUN/ray_logs/<session>.txt`
says where its logs are (on each node). Ray prints the cluster's error messages ("a worker
died") on the terminal whatever `log_to_driver` says; they go to `RUN/ray_logs/messages.log`
instead.

>>> import tempfile
>>> run = Path(tempfile.mkdtemp())
>>> logs = RayLogs(run, "10.0.0.5:6379")
>>> logs.session = "session_x"
>>> logs.link()
>>> "Ray cluster at 10.0.0.5:6379" in (run / "ray_logs" / "session_x.txt").read_text()
True
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path


class RayLogs:
    """The Ray logs of one search in `run_dir` (None: keep nothing)."""

    def __init__(self, run_dir: Path | None, address: str):
        self.run_dir = run_dir
        self.address = address
        self.temp_dir: str | None = None  # a local Ray's temporary directory
        self.session = "session"
        self._messages: list[str] = []
        self._linked = False
        self._restore: Callable[[], None] = lambda: None

    def capture_messages(self) -> None:
        """Send the messages Ray would print on the terminal to `messages.log`."""
        import ray._private.worker as ray_worker

        original = getattr(ray_worker, "print_to_stdstream", None)
        if original is None:  # another Ray version: nothing to redirect
            return

        def to_run_dir(data: dict, ignore_prefix: bool = False) -> None:
            lines = [f"({data.get('pid', '')}) {line}" for line in data.get("lines", [])]
            self._messages.extend(lines)
            self.write_messages()

        ray_worker.print_to_stdstream = to_run_dir
        self._restore = lambda: setattr(ray_worker, "print_to_stdstream", original)

    def link(self) -> None:
        """Once the run directory exists: link the local Ray's logs there, or say where a
        cluster's are."""
        if self._linked or self.run_dir is None or not self.run_dir.is_dir():
            return
        self._linked = True
        logs = self.run_dir / "ray_logs"
        logs.mkdir(exist_ok=True)
        if self.temp_dir is not None:
            link = logs / self.session
            if not link.exists() and not link.is_symlink():
                link.symlink_to(Path(self.temp_dir) / self.session / "logs",
                                target_is_directory=True)
        else:
            (logs / f"{self.session}.txt").write_text(
                f"This search ran on the Ray cluster at {self.address or 'auto'} "
                f"(session {self.session}). Ray's logs are on each node of the cluster, "
                f"under <ray temp dir>/{self.session}/logs (by default /tmp/ray).\n")

    def note(self, line: str) -> None:
        """A message of symopt's own for `messages.log` (written with Ray's)."""
        self._messages.append(line)

    def write_messages(self) -> None:
        if not self._messages or not self._linked or self.run_dir is None:
            return
        lines, self._messages = self._messages, []
        with open(self.run_dir / "ray_logs" / "messages.log", "a", encoding="utf-8") as f:
            f.write("".join(f"{line}\n" for line in lines))

    def close(self) -> None:
        """Stop capturing, write what is left and copy a local Ray's logs into the run
        (before its temporary directory is removed)."""
        self._restore()
        self.write_messages()
        if self.temp_dir is None or self.run_dir is None or not self._linked:
            return
        link = self.run_dir / "ray_logs" / self.session
        source = Path(self.temp_dir) / self.session / "logs"
        if link.is_symlink():
            link.unlink()
        if source.is_dir():
            shutil.copytree(source, link, ignore_dangling_symlinks=True, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("*.sock", "sockets"))


def session_name() -> str:
    """The name of the connected Ray session (``"session"`` where there is none)."""
    import ray

    try:
        return ray.get_runtime_context().get_session_name() or "session"
    except Exception:  # noqa: BLE001 - e.g. Ray Client: no local session
        return "session"
