"""The drain's ``task_instance`` counts, one contract for PostgreSQL and MariaDB: one
kept session per Deployment from the first count to ``release``, a fresh one once the
server ended it, and a permanent failure for a database that is not Airflow's."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncmy
import asyncpg
import pytest

from jetbridge.fencing.domain import DeploymentDatabases
from jetbridge.flightdeck.mysql import mysql_connect_kwargs
from jetbridge.pilot.adapters.task_instances import (
    MySQLTaskInstances,
    PgTaskInstances,
    TaskInstanceReader,
    open_task_instances,
)
from jetbridge.pilot.domain.steps import StepFailure

pytestmark = pytest.mark.integration
PREFIX = "tidrain_"
ROWS = [("a", "running"), ("b", "running"), ("c", "queued"), ("d", "success")]


@dataclass
class Server:
    """One database server as the test drives it (superuser), whatever its dialect."""

    dialect: str
    dsn: str

    async def run(self, sql: str, database: str | None = None) -> list[Any]:
        if self.dialect == "postgres":
            conn = await asyncpg.connect(self.dsn, database=database)
            try:
                return list(await conn.fetch(sql))
            finally:
                await conn.close()
        args = mysql_connect_kwargs(self.dsn) | {"autocommit": True}
        if database:
            args["database"] = database
        my = await asyncmy.connect(**args)
        try:
            async with my.cursor() as cur:
                await cur.execute(sql)
                return list(await cur.fetchall())
        finally:
            my.close()

    async def sessions(self, database: str) -> list[int]:
        """Ids of the sessions connected to ``database`` (not the caller's own)."""
        if self.dialect == "postgres":
            sql = f"SELECT pid FROM pg_stat_activity WHERE datname = '{database}'"
        else:
            sql = f"SELECT id FROM information_schema.processlist WHERE db = '{database}'"
        return [int(row[0]) for row in await self.run(sql)]

    async def end_session(self, session: int) -> None:
        if self.dialect == "postgres":
            await self.run(f"SELECT pg_terminate_backend({session})")
        else:
            await self.run(f"KILL {session}")

    async def until_no_sessions(self, database: str) -> None:
        """A backend exits just after its client's goodbye or its end: wait for it."""
        for _ in range(100):
            if not await self.sessions(database):
                return
            await asyncio.sleep(0.02)
        assert await self.sessions(database) == []

    def reader(self) -> TaskInstanceReader:
        return open_task_instances(self.dsn, prefix=PREFIX)


@pytest.fixture(params=["postgres", "mysql"])
def server(request: pytest.FixtureRequest) -> Server:
    dsn = request.getfixturevalue("postgres_dsn" if request.param == "postgres" else "mysql_dsn")
    return Server(request.param, dsn)


@pytest.fixture
async def metadata(server: Server) -> AsyncIterator[tuple[str, str]]:
    """A Deployment id and its metadata database, with three active task instances."""
    deployment = f"dep-{uuid.uuid4().hex[:8]}"
    name = DeploymentDatabases.named(deployment, prefix=PREFIX).epoch_database
    q = '"' if server.dialect == "postgres" else "`"
    await server.run(f"CREATE DATABASE {q}{name}{q}")
    try:
        await server.run(
            "CREATE TABLE task_instance (task_id varchar(50), state varchar(20))", name
        )
        values = ", ".join(f"('{task}', '{state}')" for task, state in ROWS)
        await server.run(f"INSERT INTO task_instance VALUES {values}", name)
        yield deployment, name
    finally:
        force = " WITH (FORCE)" if server.dialect == "postgres" else ""
        await server.run(f"DROP DATABASE IF EXISTS {q}{name}{q}{force}")


def test_the_reader_follows_the_dsn_scheme(server: Server) -> None:
    expected = PgTaskInstances if server.dialect == "postgres" else MySQLTaskInstances
    assert isinstance(server.reader(), expected)


async def test_one_session_per_drain_released_at_its_end(
    server: Server, metadata: tuple[str, str]
) -> None:
    deployment, database = metadata
    tasks = server.reader()
    try:
        for _ in range(3):
            assert await tasks.active(deployment) == {"running": 2, "queued": 1}
        assert len(await server.sessions(database)) == 1  # three counts, one login
        await server.run("UPDATE task_instance SET state = 'success' WHERE task_id = 'a'", database)
        assert await tasks.active(deployment) == {"running": 1, "queued": 1}  # not a snapshot
        await tasks.release(deployment)
        await server.until_no_sessions(database)
    finally:
        await tasks.close()


async def test_a_session_the_server_ended_is_replaced_by_the_next_count(
    server: Server, metadata: tuple[str, str]
) -> None:
    deployment, database = metadata
    tasks = server.reader()
    try:
        await tasks.active(deployment)
        (session,) = await server.sessions(database)
        await server.end_session(session)
        await server.until_no_sessions(database)
        try:
            counts = await tasks.active(deployment)
        except (asyncpg.PostgresError, asyncpg.InternalClientError, asyncmy.errors.Error, OSError):
            # The driver may learn of the end only on its next use, which then fails
            # once (asyncpg: "another operation is in progress" while it reads the
            # server's goodbye; asyncmy: lost connection). The failed count drops the
            # session and the drain polls again: the contract is about that next one.
            counts = await tasks.active(deployment)
        assert counts == {"running": 2, "queued": 1}
        (new_session,) = await server.sessions(database)
        assert new_session != session
    finally:
        await tasks.close()


async def test_a_database_without_task_instance_is_a_permanent_failure(
    server: Server, metadata: tuple[str, str]
) -> None:
    deployment, database = metadata
    await server.run("DROP TABLE task_instance", database)
    tasks = server.reader()
    try:
        with pytest.raises(StepFailure) as failure:
            await tasks.active(deployment)
        assert not failure.value.transient and "no task_instance table" in failure.value.message
        await server.until_no_sessions(database)
    finally:
        await tasks.close()


async def _plant(server: Server, database: str, attack: str) -> None:
    """The tenant's objects that would run its code as whoever reads ``task_instance``:
    each call records ``current_user`` in ``hits``."""
    if server.dialect == "postgres":
        await server.run("CREATE TABLE hits (who text)", database)
        await server.run(
            "CREATE FUNCTION evil() RETURNS boolean LANGUAGE plpgsql AS"
            " $$ BEGIN INSERT INTO hits VALUES (current_user); RETURN true; END $$",
            database,
        )
        if attack == "view":
            await server.run("ALTER TABLE task_instance RENAME TO ti_real", database)
            await server.run(
                "CREATE VIEW task_instance AS SELECT * FROM ti_real WHERE evil()", database
            )
        else:  # a row-level security policy that calls the function
            await server.run("ALTER TABLE task_instance ENABLE ROW LEVEL SECURITY", database)
            await server.run("CREATE POLICY spy ON task_instance USING (evil())", database)
        return
    await server.run("CREATE TABLE hits (who varchar(200))", database)
    await server.run(
        "CREATE FUNCTION evil() RETURNS int MODIFIES SQL DATA SQL SECURITY INVOKER"
        " BEGIN INSERT INTO hits VALUES (CURRENT_USER()); RETURN 1; END",
        database,
    )
    await server.run("RENAME TABLE task_instance TO ti_real", database)
    await server.run(
        "CREATE SQL SECURITY INVOKER VIEW task_instance AS"
        " SELECT task_id, state FROM ti_real WHERE evil() = 1",
        database,
    )


async def _refused(server: Server, deployment: str, database: str) -> None:
    tasks = server.reader()
    try:
        with pytest.raises(StepFailure) as refused:
            await tasks.active(deployment)
        assert not refused.value.transient
        assert "reads only a plain table" in refused.value.message, refused.value.message
    finally:
        await tasks.close()
    assert await server.run("SELECT who FROM hits", database) == []  # the function never ran


async def test_a_view_of_the_tenants_never_runs_as_the_reader(
    server: Server, metadata: tuple[str, str]
) -> None:
    """The reader logs in as the fencing role by default; a view of the tenant's named
    ``task_instance`` would run the tenant's function as that role (which can alter
    every Deployment's roles). The count refuses to read it."""
    deployment, database = metadata
    await _plant(server, database, "view")
    await _refused(server, deployment, database)


@pytest.mark.parametrize("server", ["postgres"], indirect=True)  # MySQL has no policies
async def test_a_row_security_policy_of_the_tenants_never_runs_as_the_reader(
    server: Server, metadata: tuple[str, str]
) -> None:
    deployment, database = metadata
    await _plant(server, database, "policy")
    await _refused(server, deployment, database)
