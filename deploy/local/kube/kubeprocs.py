"""Process helpers for the kube stack: detached spawns, pid files checked against /proc.

A pid file alone is never trusted: a pid is ours only while the process lives AND its
command line still names our state directory (pids are reused after crashes). When
the pid file is gone, a /proc scan finds the server again, so a second ``up`` reuses
running processes instead of starting duplicates on the same data.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

_lock = threading.Lock()


class KubeStackError(RuntimeError):
    """A part of the kube stack could not be brought up; the message says why."""


def say(who: str, message: str) -> None:
    with _lock:
        print(f"[{who:<12}] {message}", flush=True)


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [p.decode(errors="replace") for p in raw.split(b"\0") if p]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (ProcessLookupError, OSError):
        return False
    except PermissionError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] not in {"Z", "X"}


def find_pids(match: Callable[[list[str]], bool]) -> list[int]:
    me, found = os.getpid(), []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and int(entry.name) != me:
            argv = cmdline(int(entry.name))
            if argv and match(argv) and alive(int(entry.name)):
                found.append(int(entry.name))
    return sorted(found)


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def rss_kib(pid: int) -> int:
    """Resident set size from /proc (0 when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def spawn(
    argv: Sequence[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> int:
    """Start a daemon in its own session (survives the caller), output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
    return proc.pid


def stop_pid(pid: int, timeout: float = 20.0) -> None:
    """SIGTERM, wait, then SIGKILL: every server here shuts down cleanly on TERM."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
        _reap(pid)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)
        while alive(pid):
            time.sleep(0.05)
            _reap(pid)


def _reap(pid: int) -> None:
    # Our own children become zombies until waited for; others are reaped by init.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


def wait_for(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    pid: int | None = None,
    *,
    log: Path | None = None,
    interval: float = 0.2,
) -> float:
    """Poll ``check`` until true; fail early when ``pid`` dies. Returns seconds waited."""
    start = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - start
        except Exception:
            pass
        if pid is not None and not alive(pid):
            raise KubeStackError(
                f"{what}: pid {pid} exited" + (f"; {log}:\n{tail(log)}" if log else "")
            )
        if time.monotonic() - start > timeout:
            raise KubeStackError(
                f"{what}: not ready after {timeout:.0f}s"
                + (f"; {log}:\n{tail(log)}" if log else "")
            )
        time.sleep(interval)
