from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from jetbridge.common.settings import StackSettings
from tests.integration.kafka_tools import delete_made_topics


@pytest.fixture(scope="session", autouse=True)
def _delete_the_sessions_topics(stack: StackSettings) -> Iterator[None]:
    """The topics the tests made go when the session ends (kafka_tools.MADE_*)."""
    yield
    if stack.kafka_bootstrap_servers:
        asyncio.run(delete_made_topics(stack.kafka_bootstrap_servers))


@pytest.fixture
async def pg_database(postgres_dsn: str) -> AsyncIterator[str]:
    """A fresh PostgreSQL database for one test; dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(postgres_dsn)
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
