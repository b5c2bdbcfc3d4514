"""The drain's counts of unfinished task instances, on PostgreSQL or MySQL/MariaDB.

Airflow's metadata database may live on either server, as the fencing does
(``libs/fencing``); ``open_task_instances`` picks the reader by the DSN's scheme. Both
count ``task_instance`` rows by state in the Deployment's metadata database
(``DeploymentDatabases.named``) and pass the same contract tests
(tests/integration/pilot/test_task_instances.py).

A drain polls every ``poll_interval_s`` for as long as tasks run: one connection per
Deployment is kept from its first count to ``release`` (the drain's end), where a new
one per poll meant a login on the customer's server twice a second per drain. A failed
count drops the connection; the next opens another. A database without the table is a
permanent failure: no waiting will fix it.

**The count runs as a privileged role in a database the tenant controls.** Unless
``JETBRIDGE_PILOT_TASK_INSTANCES_DSN`` names a lesser one, the reader logs in as the
fencing role, which can alter every Deployment's roles. The tenant's Airflow owns
``task_instance`` and may create objects beside it: a view of that name over a
function, a row-level security policy, a column type with its own operators or
casts. Any of those would run the tenant's code as the fencing role (a function
called from a view runs as the caller). So each count first pins what it reads:

- PostgreSQL: in a read-only transaction, ``search_path`` is ``pg_catalog, pg_temp``
  (operators, functions and casts resolve to the built-in ones only) and
  ``row_security`` is off (a policy is an error, never evaluated); the relation is
  locked (no rename or replacement until the count commits), then read from the
  catalogue: it must be an ordinary table without row security whose ``state`` is
  ``text`` or ``varchar``; only then ``FROM ONLY public.task_instance`` is counted.
- MySQL/MariaDB: ``LOCK TABLES task_instance READ`` (no rename until ``UNLOCK``),
  then ``information_schema`` must call it a ``BASE TABLE`` (a view, INVOKER or not,
  is refused); a base table's SELECT runs no stored code (triggers fire on writes
  only; generated columns cannot call stored functions).

Anything else is a permanent failure naming the object: the drain does not read it.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from typing import Any, Generic, TypeVar

import asyncmy
import asyncpg
from asyncmy.errors import ProgrammingError

from jetbridge.common.sql.dsn import is_mysql_dsn
from jetbridge.fencing.domain import DeploymentDatabases
from jetbridge.flightdeck.mysql import mysql_connect_kwargs
from jetbridge.pilot.domain.steps import ErrorCode, StepFailure, permanent

# Airflow's unfinished task instance states (a controlled drain waits for none).
ACTIVE_STATES = ("queued", "running", "deferred")
MYSQL_NO_SUCH_TABLE = 1146  # ER_NO_SUCH_TABLE
MYSQL_COUNT = "SELECT state, COUNT(*) FROM task_instance WHERE state IN (%s, %s, %s) GROUP BY state"
MYSQL_SHAPE = (
    "SELECT TABLE_TYPE FROM information_schema.TABLES"
    " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'task_instance'"
)
# Built-in names only and no row security for the rest of the count's transaction;
# then the lock (a view is locked too, and refused below): from here to the commit
# nobody can rename or replace what the count reads.
PG_PIN = (
    "SET LOCAL search_path = pg_catalog, pg_temp; SET LOCAL row_security = off;"
    " LOCK TABLE ONLY public.task_instance IN ACCESS SHARE MODE"
)
PG_SHAPE = """
SELECT c.relkind::text AS relkind, c.relrowsecurity, a.atttypid::regtype::text AS state_type
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_attribute AS a
  ON a.attrelid = c.oid AND a.attname = 'state' AND NOT a.attisdropped
WHERE n.nspname = 'public' AND c.relname = 'task_instance'
"""
PG_COUNT = (
    "SELECT state, count(*) AS n FROM ONLY public.task_instance"
    " WHERE state = ANY($1::text[]) GROUP BY state"
)
_PG_STATE_TYPES = ("text", "character varying")
C = TypeVar("C")


def _no_table(database: str) -> StepFailure:
    return permanent(
        ErrorCode.DATABASE_UNAVAILABLE,
        f"{database} has no task_instance table: not an Airflow metadata database?",
    )


def _not_a_plain_table(database: str, why: str) -> StepFailure:
    return permanent(
        ErrorCode.DATABASE_UNAVAILABLE,
        f"{database}: {why}; the drain reads only a plain table there, since it reads as"
        " a privileged role in a database its tenant controls (a view, policy or custom"
        " type could run the tenant's code as that role)",
    )


def _pg_refusal(shape: Any) -> str | None:
    """Why ``public.task_instance`` may not be read as a privileged role (None: it may)."""
    if shape["relkind"] != "r":
        return f"public.task_instance is of relkind {shape['relkind']!r}, not an ordinary table"
    if shape["relrowsecurity"]:
        return "public.task_instance has row-level security enabled"
    if shape["state_type"] not in _PG_STATE_TYPES:
        return f"public.task_instance.state is of type {shape['state_type']}, not text"
    return None


class _KeptSessions(ABC, Generic[C]):
    """One connection per Deployment being drained, one count at a time on it."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._sessions: dict[str, tuple[C, asyncio.Lock]] = {}

    def database(self, deployment_id: str) -> str:
        return DeploymentDatabases.named(deployment_id, prefix=self._prefix).epoch_database

    @abstractmethod
    async def _connect(self, database: str) -> C: ...

    @abstractmethod
    def _is_closed(self, conn: C) -> bool: ...

    @abstractmethod
    async def _close(self, conn: C) -> None: ...

    @abstractmethod
    async def _count(self, conn: C, database: str) -> dict[str, int]: ...

    async def active(self, deployment_id: str) -> dict[str, int]:
        database = self.database(deployment_id)
        session = self._sessions.get(deployment_id)
        if session is None or self._is_closed(session[0]):
            session = self._sessions[deployment_id] = (
                await self._connect(database),
                asyncio.Lock(),
            )
        conn, lock = session
        try:
            async with lock:
                return await self._count(conn, database)
        except BaseException:
            await self.release(deployment_id)
            raise

    async def release(self, deployment_id: str) -> None:
        session = self._sessions.pop(deployment_id, None)
        if session is not None:
            with contextlib.suppress(Exception):
                await self._close(session[0])

    async def close(self) -> None:
        for deployment_id in list(self._sessions):
            await self.release(deployment_id)


class PgTaskInstances(_KeptSessions[asyncpg.Connection]):
    """``task_instance`` counts on PostgreSQL (asyncpg)."""

    def __init__(self, admin_dsn: str, *, prefix: str = "airflow_") -> None:
        super().__init__(prefix)
        self._dsn = admin_dsn

    async def _connect(self, database: str) -> asyncpg.Connection:
        return await asyncpg.connect(self._dsn, database=database)

    def _is_closed(self, conn: asyncpg.Connection) -> bool:
        return conn.is_closed()

    async def _close(self, conn: asyncpg.Connection) -> None:
        await conn.close(timeout=5)

    async def _count(self, conn: asyncpg.Connection, database: str) -> dict[str, int]:
        try:
            async with conn.transaction(readonly=True):
                await conn.execute(PG_PIN)
                shape = await conn.fetchrow(PG_SHAPE)
                if shape is None:
                    raise _no_table(database)
                if why := _pg_refusal(shape):
                    raise _not_a_plain_table(database, why)
                rows = await conn.fetch(PG_COUNT, list(ACTIVE_STATES))
        except asyncpg.UndefinedTableError as error:
            raise _no_table(database) from error
        return {str(r["state"]): int(r["n"]) for r in rows}


class MySQLTaskInstances(_KeptSessions[Any]):
    """``task_instance`` counts on MySQL or MariaDB (asyncmy, as the fencing uses)."""

    def __init__(self, admin_dsn: str, *, prefix: str = "airflow_") -> None:
        super().__init__(prefix)
        self._conn_args = mysql_connect_kwargs(admin_dsn) | {
            "charset": "utf8mb4",
            "autocommit": True,  # each count sees the latest commits, no snapshot held
        }
        self._conn_args.pop("database", None)  # each Deployment's own, at connect

    async def _connect(self, database: str) -> Any:
        return await asyncmy.connect(**self._conn_args, database=database)

    def _is_closed(self, conn: Any) -> bool:
        return not conn.connected

    async def _close(self, conn: Any) -> None:
        await conn.ensure_closed()  # QUIT, or a local close if the server went first

    async def _count(self, conn: Any, database: str) -> dict[str, int]:
        try:
            async with conn.cursor() as cur:
                await cur.execute("LOCK TABLES task_instance READ")
                try:
                    await cur.execute(MYSQL_SHAPE)
                    kind = await cur.fetchone()
                    if kind is None or kind[0] != "BASE TABLE":
                        shown = "nothing" if kind is None else f"a {kind[0]}"
                        raise _not_a_plain_table(database, f"task_instance is {shown}")
                    await cur.execute(MYSQL_COUNT, ACTIVE_STATES)  # one %s per state
                    rows = await cur.fetchall()
                finally:
                    await cur.execute("UNLOCK TABLES")
        except ProgrammingError as error:
            if error.args and error.args[0] == MYSQL_NO_SUCH_TABLE:
                raise _no_table(database) from error
            raise
        return {str(state): int(n) for state, n in rows}


TaskInstanceReader = PgTaskInstances | MySQLTaskInstances


def open_task_instances(dsn: str, *, prefix: str = "airflow_") -> TaskInstanceReader:
    """The reader for the server the DSN names (``mysql://``/``mariadb://`` or PostgreSQL)."""
    if is_mysql_dsn(dsn):
        return MySQLTaskInstances(dsn, prefix=prefix)
    return PgTaskInstances(dsn, prefix=prefix)
