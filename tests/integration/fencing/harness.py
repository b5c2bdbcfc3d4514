"""Per-engine test harness: a NON-superuser Jetbridge admin, login sessions, probes.

The superuser DSN from tests/conftest.py is used only to play the customer's DBA and
to observe (sessions, markers); every fencing action runs as the admin role created
here with the minimum privileges documented in docs/database-fencing.md.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, unquote, urlsplit

import asyncmy
import asyncpg

from jetbridge.fencing.domain import DeploymentDatabases, OwnershipModel, Side
from jetbridge.fencing.mysql import REQUIRED_GLOBAL, REQUIRED_GLOBAL_CUSTOMER, MySQLFencer
from jetbridge.fencing.postgres import PostgresFencer
from jetbridge.fencing.quoting import (
    my_account,
    my_grant_database,
    my_ident,
    my_literal,
    pg_ident,
    pg_literal,
)

SQL_DIR = Path(__file__).resolve().parents[3] / "libs/fencing/jetbridge/fencing/sql"
CUSTOMER_SQL = SQL_DIR / "customer_setup_postgresql.sql"
CUSTOMER_SQL_MYSQL = SQL_DIR / "customer_setup_mysql.sql"
WEIRD = " \"q\" 'x' ü€日"  # quotes, spaces, unicode (BMP: MariaDB identifiers)


class Session(Protocol):
    async def write(self, side: str) -> int: ...
    async def close(self) -> None: ...


@dataclass
class PgSession:
    conn: asyncpg.Connection

    async def write(self, side: str) -> int:
        n = await self.conn.fetchval(
            "WITH c AS (UPDATE probe_counter SET n = n + 1 WHERE id = 1 RETURNING n) "
            "INSERT INTO probe_log (n, side) SELECT n, $1 FROM c RETURNING n",
            side,
        )
        return int(n)

    async def close(self) -> None:
        self.conn.terminate()


@dataclass
class MySession:
    conn: Any

    async def write(self, side: str) -> int:
        async with self.conn.cursor() as cur:
            await self.conn.begin()
            await cur.execute("UPDATE probe_counter SET n = n + 1 WHERE id = 1")
            await cur.execute(
                "INSERT INTO probe_log (n, side) SELECT n, %s FROM probe_counter WHERE id = 1",
                [side],
            )
            await cur.execute("SELECT n FROM probe_counter WHERE id = 1")
            (n,) = await cur.fetchone()
            await self.conn.commit()
        return int(n)

    async def close(self) -> None:
        self.conn.close()


@dataclass
class Engine:
    """One database server and ownership model under test."""

    name: str
    kind: str  # "postgres" | "mysql"
    superuser_dsn: str
    ownership: OwnershipModel
    tag: str = field(default_factory=lambda: "jbt" + secrets.token_hex(3))
    admin: str = ""
    admin_password: str = field(default_factory=lambda: secrets.token_hex(12))
    passwords: dict[Side, str] = field(
        default_factory=lambda: {
            Side.A: "pw A'" + secrets.token_hex(4),
            Side.B: "pw\\B" + secrets.token_hex(4),
        }
    )
    _count: int = 0
    last_sessions: list[Any] = field(default_factory=list)  # for failure messages
    _fencers: dict[str, PostgresFencer | MySQLFencer] = field(default_factory=dict)

    @property
    def state_database(self) -> str:
        """PostgreSQL: this engine's own state database (a hyphen: no Deployment's)."""
        return f"{self.tag}-fencing"

    @property
    def host_port(self) -> tuple[str, int]:
        parts = urlsplit(self.superuser_dsn)
        return parts.hostname or "127.0.0.1", parts.port or (
            5432 if self.kind == "postgres" else 3306
        )

    # ----------------------------------------------------------- deployments

    def deployment(self, *, weird: bool = False, extra_db: bool = False) -> DeploymentDatabases:
        self._count += 1
        base = f"{self.tag}_{self._count}" + (WEIRD if weird else "")
        dbs = (f"{base} db",) + ((f"{base} celery",) if extra_db else ())
        return DeploymentDatabases(
            deployment_id=f"dep-{self.tag}-{self._count}",
            databases=dbs,
            role_a=f"{base} a",
            role_b=f"{base} b",
            owner_role=f"{base} owner",
            data_role=f"{base} data",
            terminator_role=f"{base} term",
            ownership=self.ownership,
        )

    # ---------------------------------------------------------------- admin

    async def create_admin(self, *, without: str = "") -> str:
        """A non-superuser admin with the documented minimum, less ``without``."""
        name = f"{self.tag}_admin" + (f"_no_{without.lower().replace(' ', '_')}" if without else "")
        if self.kind == "postgres":
            flags = ["LOGIN", "CREATEDB", "NOSUPERUSER"]
            if self.ownership is OwnershipModel.APC_MANAGED:
                flags.append("CREATEROLE")
            flags = [f for f in flags if f != without]
            su = await asyncpg.connect(self.superuser_dsn)
            try:
                password = pg_literal(self.admin_password)
                await su.execute(
                    f"CREATE ROLE {pg_ident(name)} {' '.join(flags)} PASSWORD {password}"
                )
            finally:
                await su.close()
        else:
            customer = self.ownership is OwnershipModel.CUSTOMER_MANAGED
            # what the fencer checks it has: no CREATE USER when the customer makes them
            grants = list(REQUIRED_GLOBAL_CUSTOMER if customer else REQUIRED_GLOBAL)
            async with _my(self.superuser_dsn) as su:
                acct = my_account(name, "%")
                await _q(su, f"CREATE USER {acct} IDENTIFIED BY '{self.admin_password}'")
                await _q(
                    su, f"GRANT {', '.join(g for g in grants if g != without)} ON *.* TO {acct}"
                )
                pattern = my_ident(self.tag + "%")  # every database of this test run
                await _q(su, f"GRANT ALL PRIVILEGES ON {pattern}.* TO {acct} WITH GRANT OPTION")
                await _q(
                    su,
                    f"GRANT ALL PRIVILEGES ON {my_grant_database('jetbridge_fencing')}.* TO {acct}",
                )
        return name

    def fencer(self, admin: str) -> PostgresFencer | MySQLFencer:
        """One fencer per admin (a PostgreSQL fencer pools connections), closed with it."""
        if admin not in self._fencers:
            self._fencers[admin] = self._new_fencer(admin)
        return self._fencers[admin]

    def _new_fencer(self, admin: str) -> PostgresFencer | MySQLFencer:
        host, port = self.host_port
        if self.kind == "postgres":
            db = urlsplit(self.superuser_dsn).path.lstrip("/") or "postgres"
            dsn = f"postgresql://{quote(admin)}:{quote(self.admin_password)}@{host}:{port}/{db}"
            return PostgresFencer(dsn, state_database=self.state_database)
        return MySQLFencer(f"mysql://{quote(admin)}:{quote(self.admin_password)}@{host}:{port}/")

    async def drop_admin(self, name: str) -> None:
        fencer = self._fencers.pop(name, None)
        if fencer is not None:
            await fencer.close()
        if self.kind == "postgres":
            su = await asyncpg.connect(self.superuser_dsn)
            try:
                if name == self.admin:  # the state database is the engine admin's
                    db = pg_ident(self.state_database)
                    await su.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
                await su.execute(f"DROP OWNED BY {pg_ident(name)}")
                await su.execute(f"DROP ROLE IF EXISTS {pg_ident(name)}")
            finally:
                await su.close()
        else:
            async with _my(self.superuser_dsn) as su:
                await _q(su, f"DROP USER IF EXISTS {my_account(name, '%')}")

    # ----------------------------------------------------- customer-managed

    def run_customer_sql(self, dep: DeploymentDatabases, admin: str) -> None:
        """Exactly what the docs tell the customer to run: psql -f customer SQL, or the
        mysql client with the four values in --init-command."""
        if self.kind == "mysql":
            values = {
                "login_a": dep.role_a,
                "password_a": self.passwords[Side.A],
                "login_b": dep.role_b,
                "password_b": self.passwords[Side.B],
            }
            init = "SET " + ", ".join(f"@{k} = {my_literal(v)}" for k, v in values.items())
            parts = urlsplit(self.superuser_dsn)
            mysql = shutil.which("mariadb") or shutil.which("mysql") or "mysql"
            args = [
                mysql,
                f"--host={parts.hostname or '127.0.0.1'}",
                f"--port={parts.port or 3306}",
                f"--user={unquote(parts.username or '')}",
                f"--password={unquote(parts.password or '')}",
                "--protocol=TCP",
                "--default-character-set=utf8mb4",
                f"--init-command={init}",
            ]
            subprocess.run(
                args,
                stdin=CUSTOMER_SQL_MYSQL.open("rb"),
                check=True,
                capture_output=True,
                timeout=60,
            )
            return
        psql = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"
        variables = {
            "owner_role": dep.owner_role,
            "data_role": dep.data_role,
            "terminator_role": dep.terminator_role,
            "login_a": dep.role_a,
            "password_a": self.passwords[Side.A],
            "login_b": dep.role_b,
            "password_b": self.passwords[Side.B],
            "jetbridge_role": admin,
        }
        args = [psql, self.superuser_dsn, "-X", "-q", "-v", "ON_ERROR_STOP=1"]
        for key, value in variables.items():
            args += ["-v", f"{key}={value}"]
        args += ["-f", str(CUSTOMER_SQL)]
        env = {**os.environ, "PGCLIENTENCODING": "UTF8"}
        subprocess.run(args, check=True, capture_output=True, env=env, timeout=60)

    async def take_kill_right(self, dep: DeploymentDatabases, *, give_back: bool) -> None:
        """Revoke (or restore) the admin's right to end the login roles' sessions."""
        if self.kind == "postgres":
            term, admin = pg_ident(dep.terminator_role), pg_ident(self.admin)
            su = await asyncpg.connect(self.superuser_dsn)
            try:
                if give_back:
                    await su.execute(f"GRANT {term} TO {admin}")
                elif int(await su.fetchval("SHOW server_version_num")) < 160000:
                    await su.execute(f"REVOKE {term} FROM {admin}")
                else:  # PG16+: one membership per grantor; drop those that inherit
                    grantors = await su.fetch(
                        "SELECT grantor::regrole::text AS g FROM pg_auth_members "
                        "WHERE roleid = $1::text::regrole AND member = $2::text::regrole "
                        "AND inherit_option",
                        term,
                        admin,
                    )
                    for row in grantors:
                        await su.execute(
                            f"REVOKE {term} FROM {admin} GRANTED BY {row['g']} CASCADE"
                        )
            finally:
                await su.close()
            return
        verb = (
            "GRANT CONNECTION ADMIN ON *.* TO {}"
            if give_back
            else "REVOKE CONNECTION ADMIN ON *.* FROM {}"
        )
        async with _my(self.superuser_dsn) as su:
            await _q(su, verb.format(my_account(self.admin, "%")))

    async def drop_login(self, dep: DeploymentDatabases, side: Side) -> None:
        """Play a customer's DBA who dropped one login role (or never made it)."""
        if self.kind == "postgres":
            su = await asyncpg.connect(self.superuser_dsn)
            try:
                await su.execute(f"DROP ROLE {pg_ident(dep.role(side))}")
            finally:
                await su.close()
            return
        async with _my(self.superuser_dsn) as su:
            await _q(su, f"DROP USER {my_account(dep.role(side), '%')}")

    async def superuser_drop(self, dep: DeploymentDatabases) -> None:
        """Cleanup that works whatever state a test left (even a failed provision)."""
        if self.kind == "postgres":
            await self.forget_central(dep)
            su = await asyncpg.connect(self.superuser_dsn)
            try:
                for db in dep.databases:
                    await su.execute(f"DROP DATABASE IF EXISTS {pg_ident(db)} WITH (FORCE)")
                for role in dep.all_roles:
                    await su.execute(f"DROP ROLE IF EXISTS {pg_ident(role)}")
            finally:
                await su.close()
            return
        async with _my(self.superuser_dsn) as su:
            for db in dep.databases:
                await _q(su, f"DROP DATABASE IF EXISTS {my_ident(db)}")
            for side in Side:
                await _q(su, f"DROP USER IF EXISTS {my_account(dep.role(side), '%')}")
            exists = await _q(
                su,
                "SELECT 1 FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = 'jetbridge_fencing' AND TABLE_NAME = 'epochs'",
            )
            if exists:
                await _q(
                    su,
                    "DELETE FROM jetbridge_fencing.epochs WHERE deployment_id = %s",
                    [dep.deployment_id],
                )

    async def forget_central(self, dep: DeploymentDatabases) -> None:
        """The Deployment's epoch row and helper schema in the state database, if any."""
        try:
            su = await asyncpg.connect(self.superuser_dsn, database=self.state_database)
        except asyncpg.InvalidCatalogNameError:
            return
        try:
            await su.execute(f"DROP SCHEMA IF EXISTS {pg_ident(dep.owner_role)} CASCADE")
            if await su.fetchval("SELECT to_regclass('jetbridge_fencing.epochs') IS NOT NULL"):
                await su.execute(
                    "DELETE FROM jetbridge_fencing.epochs WHERE deployment_id = $1",
                    dep.deployment_id,
                )
        finally:
            await su.close()

    # ------------------------------------------------------------- sessions

    async def login(
        self, dep: DeploymentDatabases, side: Side, *, connect_timeout: float = 5.0
    ) -> Session:
        host, port = self.host_port
        if self.kind == "postgres":
            conn = await asyncpg.connect(
                host=host,
                port=port,
                user=dep.role(side),
                password=self.passwords[side],
                database=dep.epoch_database,
                timeout=connect_timeout,
            )
            return PgSession(conn)
        my_conn = await asyncmy.connect(
            host=host,
            port=port,
            user=dep.role(side),
            password=self.passwords[side],
            database=dep.epoch_database,
            autocommit=True,
            charset="utf8mb4",
            connect_timeout=int(connect_timeout),
        )
        return MySession(my_conn)

    async def create_probe_tables(self, session: Session) -> None:
        ddl = [
            "CREATE TABLE probe_counter (id int PRIMARY KEY, n bigint NOT NULL)",
            "CREATE TABLE probe_log (n bigint PRIMARY KEY, side varchar(32) NOT NULL)",
            "INSERT INTO probe_counter VALUES (1, 0)",
        ]
        for sql in ddl:
            if isinstance(session, PgSession):
                await session.conn.execute(sql)
            else:
                assert isinstance(session, MySession)
                await _q(session.conn, sql)

    async def superuser_execute(self, sql: str) -> None:
        """One statement as the server's superuser (server settings a test flips)."""
        if self.kind == "postgres":
            conn = await asyncpg.connect(self.superuser_dsn)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()
            return
        my = await self._superuser_mysql()
        try:
            async with my.cursor() as cur:
                await cur.execute(sql)
        finally:
            my.close()

    async def _superuser_mysql(self, database: str | None = None) -> asyncmy.Connection:
        parts = urlsplit(self.superuser_dsn)
        return await asyncmy.connect(
            host=parts.hostname,
            port=parts.port or 3306,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            database=database,
            autocommit=True,
            charset="utf8mb4",
        )

    async def superuser_probe(self, dep: DeploymentDatabases) -> Session:
        """The observer's own session on the probe tables (writes the fence markers)."""
        if self.kind == "postgres":
            return PgSession(await asyncpg.connect(self.superuser_dsn, database=dep.epoch_database))
        return MySession(await self._superuser_mysql(dep.epoch_database))

    async def probe_log(self, dep: DeploymentDatabases) -> list[tuple[int, str]]:
        session = await self.superuser_probe(dep)
        try:
            if isinstance(session, PgSession):
                rows = await session.conn.fetch("SELECT n, side FROM probe_log ORDER BY n")
                return [(r["n"], r["side"]) for r in rows]
            assert isinstance(session, MySession)
            return [
                (int(n), str(s))
                for n, s in await _q(session.conn, "SELECT n, side FROM probe_log ORDER BY n")
            ]
        finally:
            await session.close()

    async def watermark(self) -> int:
        """MariaDB: the newest thread id now (threads only get larger ids); PG: unused."""
        if self.kind == "postgres":
            return 0
        async with _my(self.superuser_dsn) as su:
            ((top,),) = await _q(su, "SELECT MAX(ID) FROM information_schema.PROCESSLIST")
            return int(top)

    async def sessions_of(self, role: str, before: int = 0) -> int:
        """The role's sessions, as the superuser sees them.

        MariaDB also lists refused login attempts (USER comes from the handshake; they
        show as Connect, Busy or Killed in state "login"): a thread counts if it existed
        at ``before`` (a ``watermark()`` taken when the fence began) or if it is an
        authenticated session (idle or running a statement).
        """
        if self.kind == "postgres":
            su = await asyncpg.connect(self.superuser_dsn)
            try:
                return int(
                    await su.fetchval(
                        "SELECT count(*) FROM pg_stat_activity WHERE usename = $1", role
                    )
                )
            finally:
                await su.close()
        async with _my(self.superuser_dsn) as su:
            rows = await _q(
                su,
                "SELECT ID, COMMAND, STATE, TIME_MS FROM information_schema.PROCESSLIST "
                "WHERE USER = %s AND (ID <= %s "
                "OR COMMAND IN ('Sleep', 'Query', 'Execute', 'Fetch'))",
                [role, before],
            )
            self.last_sessions = [(before, *row) for row in rows]
            return len(rows)


class _my:
    """``async with _my(dsn) as conn``: a root MySQL connection."""

    def __init__(self, dsn: str) -> None:
        self.parts = urlsplit(dsn)

    async def __aenter__(self) -> Any:
        self.conn = await asyncmy.connect(
            host=self.parts.hostname,
            port=self.parts.port or 3306,
            user=unquote(self.parts.username or ""),
            password=unquote(self.parts.password or ""),
            autocommit=True,
            charset="utf8mb4",
        )
        return self.conn

    async def __aexit__(self, *exc: object) -> None:
        self.conn.close()


async def _q(conn: Any, sql: str, args: list[Any] | None = None) -> list[Any]:
    async with conn.cursor() as cur:
        await cur.execute(sql, args)
        return list(await cur.fetchall())
