"""The drain's ``task_instance`` counts on real PostgreSQL: one kept session per
Deployment from the first count to ``release``, and a fresh one once it is lost."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from jetbridge.fencing.domain import DeploymentDatabases
from jetbridge.pilot.adapters.database import PgTaskInstances
from jetbridge.pilot.domain.steps import StepFailure

pytestmark = pytest.mark.integration
PREFIX = "tidrain_"


@pytest.fixture
async def metadata(postgres_dsn: str) -> AsyncIterator[tuple[str, str]]:
    """A Deployment id and its metadata database, with three active task instances."""
    deployment = f"dep-{uuid.uuid4().hex[:8]}"
    name = DeploymentDatabases.named(deployment, prefix=PREFIX).epoch_database
    admin = await asyncpg.connect(postgres_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        db = await asyncpg.connect(postgres_dsn, database=name)
        await db.execute(
            "CREATE TABLE task_instance (task_id text, state text);"
            "INSERT INTO task_instance VALUES ('a', 'running'), ('b', 'running'),"
            " ('c', 'queued'), ('d', 'success')"
        )
        await db.close()
        yield deployment, name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _sessions(server: str, database: str) -> list[asyncpg.Record]:
    admin = await asyncpg.connect(server)
    try:
        return await admin.fetch(
            "SELECT pid, backend_start FROM pg_stat_activity WHERE datname = $1", database
        )
    finally:
        await admin.close()


async def _until_no_sessions(server: str, database: str) -> None:
    """A backend exits just after its client's goodbye or its termination: wait for it."""
    for _ in range(100):
        if not await _sessions(server, database):
            return
        await asyncio.sleep(0.02)
    assert await _sessions(server, database) == []


async def test_one_session_per_drain_released_at_its_end(
    postgres_dsn: str, metadata: tuple[str, str]
) -> None:
    deployment, database = metadata
    tasks = PgTaskInstances(postgres_dsn, prefix=PREFIX)
    try:
        for _ in range(3):
            assert await tasks.active(deployment) == {"running": 2, "queued": 1}
        sessions = await _sessions(postgres_dsn, database)
        assert len(sessions) == 1  # three counts, one login
        await tasks.release(deployment)
        await _until_no_sessions(postgres_dsn, database)
    finally:
        await tasks.close()


async def test_a_session_the_server_ended_is_replaced_by_the_next_count(
    postgres_dsn: str, metadata: tuple[str, str]
) -> None:
    deployment, database = metadata
    tasks = PgTaskInstances(postgres_dsn, prefix=PREFIX)
    try:
        await tasks.active(deployment)
        ((pid, _),) = await _sessions(postgres_dsn, database)
        admin = await asyncpg.connect(postgres_dsn)
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()
        await _until_no_sessions(postgres_dsn, database)
        # asyncpg has seen the server close it: the next count opens another session.
        assert await tasks.active(deployment) == {"running": 2, "queued": 1}
        ((new_pid, _),) = await _sessions(postgres_dsn, database)
        assert new_pid != pid
    finally:
        await tasks.close()


async def test_a_database_without_task_instance_is_a_permanent_failure(
    postgres_dsn: str, metadata: tuple[str, str]
) -> None:
    deployment, database = metadata
    db = await asyncpg.connect(postgres_dsn, database=database)
    await db.execute("DROP TABLE task_instance")
    await db.close()
    tasks = PgTaskInstances(postgres_dsn, prefix=PREFIX)
    try:
        with pytest.raises(StepFailure) as failure:
            await tasks.active(deployment)
        assert not failure.value.transient and "no task_instance table" in failure.value.message
        await _until_no_sessions(postgres_dsn, database)
    finally:
        await tasks.close()
