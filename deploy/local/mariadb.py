"""The stack's MariaDB: Debian's mariadbd on its own data directory, port and socket.

``mariadb-install-db`` creates ``root@localhost`` with unix_socket auth, so OS root
can always log in over the instance's own socket. The stack uses that door to set
the generated password for ``root`` (socket OR password) and to create
``root@127.0.0.1`` for TCP clients (``--skip-name-resolve`` keeps 127.0.0.1 from being
folded into ``localhost``). The same door re-syncs the password if it was lost.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from pathlib import Path

from component import Component
from layout import HOST, MARIADB_PORT
from procs import (
    StackError,
    make_owned_dir,
    make_owned_file,
    port_open,
    run,
    say,
    socket_dir,
    spawn_detached,
    timed,
)

OS_USER = "mysql"
SERVER_OPTIONS = [
    "--skip-name-resolve",
    "--max-connections=300",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_unicode_ci",
    "--innodb-buffer-pool-size=128M",
    # Local dev/test stack: a commit is flushed to the OS, not to disk (like fsync=off
    # in PostgreSQL). A killed server loses nothing; an OS crash may lose ~1 s.
    "--innodb-flush-log-at-trx-commit=2",
    "--innodb-doublewrite=0",
    "--skip-log-bin",
    "--performance-schema=OFF",
    "--log-warnings=1",  # 2 (default) logs every port probe as an aborted connection
]


class MariaDB(Component):
    name = "mariadb"
    base_ports = (MARIADB_PORT,)
    stop_signal = signal.SIGTERM  # mariadbd's clean shutdown

    @property
    def base_dir(self) -> Path:
        return self.layout.state_dir / "mariadb"

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def socket(self) -> Path:
        return socket_dir(self.base_dir / "run", "mariadb.sock") / "mariadb.sock"

    @property
    def pid_file(self) -> Path:
        return self.layout.run_dir / "mariadb.pid"

    @property
    def installed_marker(self) -> Path:
        return self.base_dir / ".installed"

    def password(self) -> str:
        return self.layout.password("mariadb")

    def endpoint(self) -> str:
        return f"mysql://root:{self.password()}@{HOST}:{self.port}/"

    def server_data_dir(self, argv: list[str]) -> str | None:
        if not argv or os.path.basename(argv[0]) not in {"mariadbd", "mysqld"}:
            return None
        for arg in argv:
            if arg.startswith("--datadir=") and arg.endswith("/mariadb/data"):
                return arg.removeprefix("--datadir=")
        return None

    def initialized_at(self, data_dir: Path) -> bool:
        return (data_dir.parent / ".installed").exists() and (data_dir / "mysql").is_dir()

    def prepare(self) -> None:
        make_owned_dir(self.base_dir, OS_USER, 0o755)
        make_owned_dir(self.socket.parent, OS_USER, 0o755)
        make_owned_file(self.log_file, OS_USER)
        if self.initialized():
            return
        if self.data_dir.exists():  # an interrupted install: start over
            shutil.rmtree(self.data_dir)
        with timed(self.name, f"mariadb-install-db {self.data_dir}"):
            run(
                [
                    "mariadb-install-db",
                    "--no-defaults",
                    f"--user={OS_USER}",
                    f"--datadir={self.data_dir}",
                    "--auth-root-authentication-method=socket",
                    "--skip-test-db",
                    "--skip-name-resolve",
                ],
                "mariadb-install-db",
                timeout=300,
            )
        self.installed_marker.touch()

    def start(self) -> int:
        self.socket.unlink(missing_ok=True)
        argv = [
            "/usr/sbin/mariadbd",
            "--no-defaults",
            f"--user={OS_USER}",
            f"--datadir={self.data_dir}",
            f"--socket={self.socket}",
            f"--pid-file={self.socket.parent / 'mariadbd.pid'}",
            f"--bind-address={HOST}",
            f"--port={self.port}",
            f"--log-error={self.log_file}",
            *SERVER_OPTIONS,
        ]
        return spawn_detached(argv, self.log_file)

    def ready(self) -> bool:
        if not (port_open(self.port) and self.socket.exists()):
            return False
        try:
            # `ping` succeeds once the server accepts connections, whatever the auth.
            run(
                [
                    "mariadb-admin",
                    "--no-defaults",
                    f"--socket={self.socket}",
                    "-u",
                    "root",
                    "--connect-timeout=2",
                    "ping",
                ],
                "mariadb-admin ping",
                timeout=10,
            )
        except StackError:
            return False
        return True

    def after_ready(self) -> None:
        if asyncio.run(self._password_ok()):
            return
        say(self.name, "setting the root password (socket auth as OS root)")
        pw = self.password()
        sql = (
            "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket "
            f"OR mysql_native_password USING PASSWORD('{pw}');\n"
            f"CREATE USER IF NOT EXISTS 'root'@'{HOST}' IDENTIFIED BY '{pw}';\n"
            f"ALTER USER 'root'@'{HOST}' IDENTIFIED BY '{pw}';\n"
            f"GRANT ALL PRIVILEGES ON *.* TO 'root'@'{HOST}' WITH GRANT OPTION;\n"
        )
        run(
            ["mariadb", "--no-defaults", f"--socket={self.socket}", "-u", "root"],
            "mariadb set root password",
            input_text=sql,
        )
        if not asyncio.run(self._password_ok()):
            raise StackError("mariadb: password login still fails after setting it")

    async def _password_ok(self) -> bool:
        import asyncmy  # noqa: PLC0415 (lazy: `status`, `down`, `jars` stay fast)
        from asyncmy.errors import OperationalError  # noqa: PLC0415

        try:
            conn = await asyncmy.connect(
                host=HOST, port=self.port, user="root", password=self.password(), connect_timeout=10
            )
        except OperationalError as err:
            if err.args and err.args[0] in (1045, 1130):  # access denied / host not allowed
                return False
            raise
        try:
            async with conn.cursor() as cur:
                await cur.execute("SELECT 1")
                row = await cur.fetchone()
            return bool(row and row[0] == 1)
        finally:
            await conn.ensure_closed()
