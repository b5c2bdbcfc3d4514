"""deploy/local/component.py: a running server is reused only if it listens on every
port its component now names; one started from an older config is restarted.

A real process (a tiny TCP server that listens on the first port only) stands for a
broker started before a listener was added to its config.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "deploy" / "local"))
from component import Component
from layout import Layout
from ports import free_port
from procs import alive, port_open, spawn_detached, stop_pid

SERVER = """
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
while True:
    time.sleep(1)
"""


class OnePortServer(Component):
    """Listens on its first port only, however many it is given."""

    name = "one-port"
    start_timeout = 10.0

    def __init__(self, layout: Layout, ports: tuple[int, ...]) -> None:
        super().__init__(layout)
        self.base_ports = ports

    @property
    def data_dir(self) -> Path:
        return self.layout.state_dir / "one-port"

    @property
    def pid_file(self) -> Path:
        return self.layout.run_dir / "one-port.pid"

    def server_data_dir(self, argv: list[str]) -> str | None:
        return argv[-1] if len(argv) > 1 and argv[-1] == str(self.data_dir) else None

    def initialized_at(self, data_dir: Path) -> bool:
        return data_dir.exists()

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def start(self) -> int:
        argv = [sys.executable, "-c", SERVER, str(self.port), str(self.data_dir)]
        return spawn_detached(argv, self.log_file)

    def ready(self) -> bool:
        return port_open(self.port)

    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"


def test_a_server_missing_a_port_of_the_current_config_is_restarted(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    first_port = free_port()
    old = OnePortServer(layout, (first_port,))  # the config it was started with
    assert old.ensure_up(takeover=False).startswith("started")
    pid = old.our_pids()[0]
    try:
        assert old.ensure_up(takeover=False) == f"reused pid {pid}"  # nothing changed
        new = OnePortServer(layout, (first_port, free_port()))  # a port added since
        assert new.ensure_up(takeover=False).startswith("started")
        assert not alive(pid)
        assert new.our_pids() and new.our_pids()[0] != pid
    finally:
        for p in old.our_pids():
            stop_pid(p, old.stop_signal, 5, old.name)


class ConfiguredServer(OnePortServer):
    """The same server, whose config on disk may differ from what the code writes now."""

    def __init__(self, layout: Layout, ports: tuple[int, ...], current: bool) -> None:
        super().__init__(layout, ports)
        self.current = current

    def config_current(self) -> bool:
        return self.current


def test_a_server_started_from_an_older_config_is_restarted(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    first = ConfiguredServer(layout, (port,), current=True)
    assert first.ensure_up(takeover=False).startswith("started")
    pid = first.our_pids()[0]
    try:
        assert first.ensure_up(takeover=False) == f"reused pid {pid}"
        changed = ConfiguredServer(layout, (port,), current=False)  # e.g. ACLs added since
        assert changed.ensure_up(takeover=False).startswith("started")
        assert not alive(pid)
        assert changed.our_pids() and changed.our_pids()[0] != pid
    finally:
        for p in first.our_pids():
            stop_pid(p, first.stop_signal, 5, first.name)
