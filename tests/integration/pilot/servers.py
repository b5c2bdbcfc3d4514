"""The database server a Pilot test runs against: PostgreSQL 15 or MariaDB, and on
either one either ownership model of the login roles.

One server holds everything a Pilot touches there: both Flightdecks, the fencing admin
(a non-superuser with the minimum docs/database-fencing.md gives), each Deployment's
metadata database with its ``task_instance`` table (what the drain counts), and the
fence's state. ``Server`` hands out each of those for its kind, so one failover test
runs on all. With customer-managed users (``users="customer"``) the admin has no
CREATEROLE (no CREATE USER on MariaDB), and before provisioning the test plays the
customer: the documented SQL per Deployment (psql or the mysql client, as
docs/database-fencing.md says) and the two passwords in the external secrets store,
where the home cluster's Pilot pulls them from.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

import asyncmy
import boto3

from jetbridge.fencing.domain import DeploymentDatabases, FencingState, OwnershipModel, Side
from jetbridge.fencing.mysql import REQUIRED_GLOBAL, REQUIRED_GLOBAL_CUSTOMER, MySQLFencer
from jetbridge.fencing.quoting import my_account, my_ident
from jetbridge.flightdeck.mysql import mysql_connect_kwargs
from jetbridge.pilot.domain import secrets as sec
from jetbridge.pilot.domain.airflow import DeploymentSpec
from tests.integration.fencing.harness import Engine
from tests.integration.flightdeck.dbs import (
    mysql_database,
    mysql_fetch,
    pg_fetch,
    postgres_database,
)

from .harness import db_prefix, fencer, fencing_admin, state_database, tag, task_instances

POSTGRESQL, MARIADB = "postgresql", "mariadb"
APC, CUSTOMER = "apc", "customer"


class TaskTable(Protocol):
    async def execute(self, sql: str) -> Any: ...


@dataclass(frozen=True)
class Server:
    kind: str  # POSTGRESQL or MARIADB
    superuser_dsn: str
    users: str = APC  # who creates the login roles (JETBRIDGE_PILOT_DATABASE_USERS)

    def fencing_admin(self) -> contextlib.AbstractAsyncContextManager[str]:
        if self.kind == POSTGRESQL:
            return fencing_admin(self.superuser_dsn, createrole=self.users == APC)
        return mysql_fencing_admin(self.superuser_dsn, customer=self.users == CUSTOMER)

    async def as_the_customer(
        self, admin_dsn: str, deployment_ids: list[str], secrets_endpoint: str
    ) -> dict[Side, str]:
        """Customer-managed users only: what the customer does before each Deployment is
        created; the passwords it chose (none for the APC-managed model)."""
        if self.users != CUSTOMER:
            return {}
        admin = urlsplit(admin_dsn).username or ""
        kind = "postgres" if self.kind == POSTGRESQL else "mysql"
        dba = Engine(name="customer", kind=kind, superuser_dsn=self.superuser_dsn, ownership=CUST)
        store = boto3.session.Session().client(
            "secretsmanager",
            endpoint_url=secrets_endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        for deployment_id in deployment_ids:
            roles = DeploymentDatabases.named(
                deployment_id, prefix=db_prefix(admin_dsn), ownership=CUST
            )
            dba.run_customer_sql(roles, admin)
            spec = DeploymentSpec(deployment_id, "")
            for side in (Side.A, Side.B):
                key = sec.remote_key(spec, sec.login_kind(side.value))
                value = json.dumps({"password": dba.passwords[side]})
                store.create_secret(Name=key, SecretString=value)
        return dict(dba.passwords)

    async def can_login(self, deployment_id: str, admin_dsn: str) -> dict[Side, bool]:
        """Each side's login can still log in (the customer's model fences by CONNECT,
        or on MariaDB the database grants, alone and never alters the customer's
        roles): PostgreSQL's LOGIN, MariaDB's account not locked."""
        roles = DeploymentDatabases.named(deployment_id, prefix=db_prefix(admin_dsn))
        if self.kind == MARIADB:
            locked = await mysql_fetch(
                self.superuser_dsn,
                "SELECT User AS name, JSON_VALUE(Priv, '$.account_locked') AS locked "
                "FROM mysql.global_priv WHERE Host = '%%' AND User IN (%s, %s)",
                roles.role_a,
                roles.role_b,
            )
            unlocked = {r["name"]: r["locked"] in (None, "false") for r in locked}
            return {Side.A: unlocked[roles.role_a], Side.B: unlocked[roles.role_b]}
        rows = await pg_fetch(
            self.superuser_dsn,
            "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = ANY($1::text[])",
            [roles.role_a, roles.role_b],
        )
        login = {r["rolname"]: bool(r["rolcanlogin"]) for r in rows}
        return {Side.A: login[roles.role_a], Side.B: login[roles.role_b]}

    def flightdeck_database(self, prefix: str) -> contextlib.AbstractAsyncContextManager[str]:
        if self.kind == POSTGRESQL:
            return postgres_database(self.superuser_dsn, prefix)
        return mysql_database(self.superuser_dsn, prefix)

    def task_instances(
        self, prefix: str, deployment_id: str
    ) -> contextlib.AbstractAsyncContextManager[TaskTable]:
        if self.kind == POSTGRESQL:
            return task_instances(self.superuser_dsn, prefix, deployment_id)
        return mysql_task_instances(self.superuser_dsn, prefix, deployment_id)

    async def fence_state(self, admin_dsn: str, deployment_id: str) -> FencingState:
        databases = DeploymentDatabases.named(deployment_id, prefix=db_prefix(admin_dsn))
        if self.kind == POSTGRESQL:
            async with fencer(admin_dsn) as reader:
                return await reader.state(databases)
        return await MySQLFencer(admin_dsn, state_database=state_database(admin_dsn)).state(
            databases
        )

    async def outbox_event_ids(self, flightdeck_dsn: str) -> list[Any]:
        fetch = pg_fetch if self.kind == POSTGRESQL else mysql_fetch
        return [r["event_id"] for r in await fetch(flightdeck_dsn, OUTBOX_IDS)]


OUTBOX_IDS = "SELECT event_id FROM dp_flight_outbox"
CUST = OwnershipModel.CUSTOMER_MANAGED


@contextlib.asynccontextmanager
async def mysql_fencing_admin(superuser_dsn: str, *, customer: bool = False) -> AsyncIterator[str]:
    """A MariaDB account with the documented grants (no SUPER; no CREATE USER when the
    customer makes the accounts), its DSN, and cleanup of every database and account
    its Deployments created (named with its prefix)."""
    name = f"pilot_{tag()}"
    prefix = name.removeprefix("pilot_")
    password = secrets.token_urlsafe(16)
    account = my_account(name, "%")
    async with _root(superuser_dsn) as root:
        await _run(root, f"CREATE USER {account} IDENTIFIED BY '{password}'")
        needed = REQUIRED_GLOBAL_CUSTOMER if customer else REQUIRED_GLOBAL
        await _run(root, f"GRANT {', '.join(needed)} ON *.* TO {account}")
        # Its Deployments' databases and its own fence state database ("<prefix>-fencing").
        pattern = my_ident(prefix + "%")
        await _run(root, f"GRANT ALL PRIVILEGES ON {pattern}.* TO {account} WITH GRANT OPTION")
    parts = urlsplit(superuser_dsn)
    netloc = f"{quote(name)}:{quote(password)}@{parts.hostname}:{parts.port}"
    try:
        yield urlunsplit((parts.scheme, netloc, "/", "", ""))
    finally:
        async with _root(superuser_dsn) as root:
            for (db,) in await _run(root, "SHOW DATABASES LIKE %s", [prefix + "%"]):
                await _run(root, f"DROP DATABASE IF EXISTS {my_ident(db)}")
            users = "SELECT user, host FROM mysql.user WHERE user LIKE %s"
            for user, host in await _run(root, users, [prefix + "%"]):
                await _run(root, f"DROP USER IF EXISTS {my_account(user, host)}")
            await _run(root, f"DROP USER IF EXISTS {account}")


@dataclass
class _MyTaskTable:
    conn: Any

    async def execute(self, sql: str) -> Any:
        return await _run(self.conn, sql)


@contextlib.asynccontextmanager
async def mysql_task_instances(
    superuser_dsn: str, prefix: str, deployment_id: str
) -> AsyncIterator[TaskTable]:
    """Airflow's ``task_instance`` in the Deployment's metadata database, on MariaDB."""
    database = DeploymentDatabases.named(deployment_id, prefix=prefix).epoch_database
    async with _root(superuser_dsn, database=database) as conn:
        await _run(
            conn,
            "CREATE TABLE IF NOT EXISTS task_instance "
            "(task_id varchar(250) PRIMARY KEY, state varchar(20))",
        )
        yield _MyTaskTable(conn)


@contextlib.asynccontextmanager
async def _root(dsn: str, database: str | None = None) -> AsyncIterator[Any]:
    args = mysql_connect_kwargs(dsn) | {"autocommit": True, "charset": "utf8mb4"}
    if database is not None:
        args["database"] = database
    conn = await asyncmy.connect(**args)
    try:
        yield conn
    finally:
        await conn.ensure_closed()


async def _run(conn: Any, sql: str, args: list[Any] | None = None) -> list[Any]:
    async with conn.cursor() as cur:
        await cur.execute(sql, args)
        return list(await cur.fetchall())
