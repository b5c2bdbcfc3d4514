"""Process helpers for the local stack: pid files, /proc scans, ports, detached spawns.

The stack never trusts a pid file alone: a pid is ours only while that process is
alive AND its command line names our data directory (pids get reused after a crash
or a reboot). When the pid file is lost, the same /proc scan finds the server again,
so a second `up` never starts a second server on the same data.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

_print_lock = threading.Lock()


def say(component: str, message: str) -> None:
    """One progress line; threads start components in parallel, so lines must not mix."""
    with _print_lock:
        print(f"[{component:<10}] {message}", flush=True)


class StackError(RuntimeError):
    """A component could not be brought to the wanted state; the message says why."""


def cmdline(pid: int) -> list[str]:
    """The argv of a process, or [] when it is gone or unreadable."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] in {"Z", "X"}


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not is_zombie(pid)


def find_processes(match: Callable[[list[str]], bool]) -> list[int]:
    """Pids of live processes whose argv satisfies ``match`` (never this process)."""
    found = []
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid == me:
            continue
        argv = cmdline(pid)
        if argv and match(argv) and alive(pid):
            found.append(pid)
    return sorted(found)


def read_pid(pid_file: Path) -> int | None:
    """The first line of a pid file (PostgreSQL's postmaster.pid has more lines)."""
    try:
        first = pid_file.read_text().splitlines()[0].strip()
    except (OSError, IndexError):
        return None
    return int(first) if first.isdigit() else None


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.3) -> bool:
    """True when something accepts TCP connections on host:port."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def listener_pids(port: int) -> list[int]:
    """Pids holding a listening TCP socket on ``port`` (from /proc/net/tcp{,6})."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{inode}]")
    if not inodes:
        return []
    holders = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in os.scandir(f"/proc/{entry.name}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(fd.path) in inodes:
                        holders.append(int(entry.name))
                        break
    return sorted(holders)


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    *,
    interval: float = 0.2,
    still_alive: Callable[[], bool] | None = None,
) -> None:
    """Poll ``check`` until it holds; fail early when the watched process died."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if still_alive is not None and not still_alive():
            raise StackError(f"{what}: the process exited while starting")
        if time.monotonic() > deadline:
            raise StackError(f"{what}: not ready after {timeout:.0f}s")
        time.sleep(interval)


def spawn_detached(
    argv: Sequence[str],
    log_file: Path,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start a daemon in its own session, output appended to ``log_file``.

    A new session keeps the server alive when `make` or the shell that ran `up` ends,
    and keeps Ctrl-C in that shell from reaching it.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        log.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} start: {argv[0]}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=env,
            cwd=cwd,
        )
    # Reap the child when it exits so a crash is seen as "dead", not as a zombie.
    threading.Thread(target=proc.wait, daemon=True).start()
    return proc.pid


def stop_pid(pid: int, sig: signal.Signals, timeout: float, what: str) -> None:
    """Ask a server to shut down with ``sig``; SIGKILL it if it ignores us."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            say(what, f"pid {pid} ignored {sig.name} for {timeout:.0f}s: SIGKILL")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not alive(pid), 10, f"{what} SIGKILL")
            return
        time.sleep(0.1)


def run(
    argv: Sequence[str],
    what: str,
    *,
    user: str | None = None,
    timeout: float = 300,
    input_text: str | None = None,
    env: dict[str, str] | None = None,
) -> str:
    """Run a command to completion (as ``user`` via runuser); its output in any error."""
    full = ["runuser", "-u", user, "--", *argv] if user else list(argv)
    result = subprocess.run(
        full,
        input=input_text,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip()[-3000:]
        raise StackError(f"{what} failed (exit {result.returncode}):\n{tail}")
    return result.stdout


def make_owned_dir(path: Path, user: str, mode: int = 0o700) -> None:
    """Create ``path`` for a system user (initdb insists on 0700/0750)."""
    path.mkdir(parents=True, exist_ok=True)
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    path.chmod(mode)


def make_owned_file(path: Path, user: str, mode: int = 0o640) -> None:
    """Create (or keep) a log file the server's system user may append to."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(exist_ok=True)
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    path.chmod(mode)


SOCKET_PATH_MAX = 107  # sun_path on Linux holds 108 bytes with the trailing NUL


def socket_dir(preferred: Path, socket_name: str) -> Path:
    """``preferred`` unless the socket path would be too long (deep CI clones); then a
    short directory under /tmp named by a hash of ``preferred`` (stable per checkout)."""
    if len(str(preferred / socket_name)) <= SOCKET_PATH_MAX:
        return preferred
    digest = hashlib.sha256(str(preferred).encode()).hexdigest()[:10]
    return Path("/tmp") / f"jetbridge-{digest}"


def tail(path: Path, lines: int = 25) -> str:
    """The end of a log file, for error messages."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def timed(component: str, action: str) -> Iterator[None]:
    """Print how long ``action`` took: the numbers in docs/operations-local-stack.md."""
    start = time.monotonic()
    yield
    say(component, f"{action} in {time.monotonic() - start:.1f}s")
