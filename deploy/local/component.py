"""The life cycle every local server shares: find it, reuse it, or start it once.

``up`` must be idempotent and must never start a second server on the same data, so
"is it running?" is answered from the process table (pid file first, then a /proc
scan for a server whose command line names our data directory), and "is it usable?"
from the server's own protocol, not from the pid alone.
"""

from __future__ import annotations

import signal
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from layout import Layout
from procs import (
    StackError,
    alive,
    cmdline,
    find_processes,
    listener_pids,
    port_open,
    read_pid,
    say,
    stop_pid,
    tail,
)


@dataclass(frozen=True)
class Status:
    name: str
    running: bool
    pid: int | None
    endpoint: str
    detail: str


class Component(ABC):
    """One server of the stack (Kafka broker, a PostgreSQL, MariaDB)."""

    name: str
    base_ports: tuple[int, ...]  # before JETBRIDGE_STACK_PORT_OFFSET
    stop_signal: signal.Signals = signal.SIGTERM
    start_timeout: float = 90.0
    stop_timeout: float = 60.0

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    @property
    def ports(self) -> tuple[int, ...]:
        return tuple(self.layout.port(p) for p in self.base_ports)

    @property
    def port(self) -> int:
        """The client port (the first one)."""
        return self.ports[0]

    # --- what each component defines -------------------------------------------------
    @property
    @abstractmethod
    def data_dir(self) -> Path:
        """The directory only this server uses; its path identifies the process."""

    @property
    @abstractmethod
    def pid_file(self) -> Path: ...

    @abstractmethod
    def server_data_dir(self, argv: list[str]) -> str | None:
        """The data dir of a server of this kind (whichever checkout's), else None."""

    @abstractmethod
    def initialized_at(self, data_dir: Path) -> bool:
        """First-time init was done in ``data_dir`` (ours or another checkout's)."""

    @abstractmethod
    def prepare(self) -> None:
        """First-time init (idempotent) and rewriting config files before a start."""

    @abstractmethod
    def start(self) -> int:
        """Launch the server detached; return its pid."""

    @abstractmethod
    def ready(self) -> bool:
        """The server answers its own protocol (not just an open port)."""

    @abstractmethod
    def endpoint(self) -> str:
        """What clients connect to (a DSN or bootstrap servers)."""

    @property
    def log_file(self) -> Path:
        return self.layout.logs_dir / f"{self.name}.log"

    def after_ready(self) -> None:  # noqa: B027 (optional hook)
        """Work needing a running server (topics, passwords); must be idempotent."""

    def config_current(self) -> bool:
        """The running server started from the config this code would write now."""
        return True

    # --- shared life cycle ------------------------------------------------------------
    def initialized(self) -> bool:
        return self.initialized_at(self.data_dir)

    def is_server(self, argv: list[str]) -> bool:
        return self.server_data_dir(argv) is not None

    def owns(self, argv: list[str]) -> bool:
        return self.server_data_dir(argv) == str(self.data_dir)

    def our_pids(self) -> list[int]:
        """Servers running on our data: from the pid file, else from a /proc scan."""
        pid = read_pid(self.pid_file)
        if pid is not None and alive(pid) and self.owns(cmdline(pid)):
            others = [p for p in find_processes(self.owns) if p != pid]
            return [pid, *others]
        return find_processes(self.owns)

    def status(self) -> Status:
        pids = self.our_pids()
        answering = all(port_open(p) for p in self.ports)
        if pids and answering:
            detail = "running"
        elif pids:
            detail = "process alive, port not answering"
        elif any(port_open(p) for p in self.ports):
            detail = "STOPPED, but its port is taken by another process"
        else:
            detail = "stopped"
        return Status(
            self.name, bool(pids) and answering, pids[0] if pids else None, self.endpoint(), detail
        )

    def ensure_up(self, takeover: bool) -> str:
        """Reuse the running server or start one; returns what was done."""
        pids = self.our_pids()
        if pids and not self.initialized():
            say(self.name, f"data dir {self.data_dir} is gone; stopping stale pid(s) {pids}")
            self._stop_pids(pids)
            pids = []
        if len(pids) > 1:
            raise StackError(
                f"{self.name}: several servers on {self.data_dir}: {pids}; "
                "run `stack.py down` and check the processes"
            )
        if pids:
            pid = pids[0]
            self.wait_ready(pid)
            listening = all(port_open(port) for port in self.ports)
            if listening and self.config_current():
                self._write_pid(pid)
                self.after_ready()
                return f"reused pid {pid}"
            # Started from an older config (a listener added since, such as Kafka's
            # SSL one, or settings changed): restart it with the current one.
            why = "runs an older config" if listening else f"does not listen on all of {self.ports}"
            say(self.name, f"pid {pid} {why}; restarting")
            self._stop_pids([pid])
        self._clear_ports(takeover)
        self.prepare()
        pid = self.start()
        self._write_pid(pid)
        self.wait_ready(pid)
        self.after_ready()
        return f"started pid {pid}"

    def wait_ready(self, pid: int) -> None:
        deadline = time.monotonic() + self.start_timeout
        while not self.ready():
            if not alive(pid):
                raise StackError(
                    f"{self.name}: pid {pid} exited; see {self.log_file}:\n" + self.log_tail()
                )
            if time.monotonic() > deadline:
                raise StackError(
                    f"{self.name}: pid {pid} not ready after "
                    f"{self.start_timeout:.0f}s; see {self.log_file}:\n" + self.log_tail()
                )
            time.sleep(0.25)

    def stop(self) -> str:
        pids = self.our_pids()
        if not pids:
            return "not running"
        self._stop_pids(pids)
        self.pid_file.unlink(missing_ok=True)
        return f"stopped pid(s) {', '.join(map(str, pids))}"

    def log_tail(self) -> str:
        return tail(self.log_file)

    def _stop_pids(self, pids: list[int]) -> None:
        for pid in pids:
            stop_pid(pid, self.stop_signal, self.stop_timeout, self.name)

    def _write_pid(self, pid: int) -> None:
        # PostgreSQL writes its own postmaster.pid; the others get ours in .state/run.
        if self.pid_file.parent == self.layout.run_dir:
            self.pid_file.write_text(f"{pid}\n")

    def _clear_ports(self, takeover: bool) -> None:
        """Our ports must be free. If the same kind of server of another checkout's
        stack holds them (a developer's stack left up when CI runs in a fresh clone),
        stop it when taking over, or when that checkout's data dir no longer exists
        (a deleted clone's leftover). Anything else holding them is an error."""
        deadline = time.monotonic() + 15
        while True:
            busy = [p for p in self.ports if port_open(p)]
            if not busy:
                return
            holders = sorted({pid for p in busy for pid in listener_pids(p)})
            # A holder without a command line is exiting: give it time to let go.
            if all(cmdline(pid) for pid in holders) or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        dirs = {pid: self.server_data_dir(cmdline(pid)) for pid in holders}
        foreign = [pid for pid, data in dirs.items() if data is not None]
        orphaned = all(
            not self.initialized_at(Path(dirs[pid] or "/nonexistent")) for pid in foreign
        )
        if foreign and foreign == holders and (takeover or orphaned):
            why = "takeover" if takeover else "its data dir is gone"
            say(
                self.name,
                f"port(s) {busy} held by another checkout's stack "
                f"(pid(s) {foreign}): stopping it ({why})",
            )
            self._stop_pids(foreign)
            if not any(port_open(p) for p in self.ports):
                return
        if foreign and foreign == holders:
            who = f"another checkout's {self.name} (pid(s) {foreign})"
            hint = (
                " Stop that stack (`stack.py down` in its checkout), run `stack.py up "
                "--takeover` (the default when CI=true), or set "
                "JETBRIDGE_STACK_PORT_OFFSET."
            )
        else:
            names = [f"{pid} {' '.join(cmdline(pid))[:80]}" for pid in holders]
            who, hint = f"other process(es): {names or 'unknown'}", ""
        raise StackError(f"{self.name}: port(s) {busy} are in use by {who}.{hint}")
