"""A data plane's Flightdeck may be PostgreSQL or MySQL: agent tests that touch it run
on both dialects' real servers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ..flightdeck.dbs import mysql_database, postgres_database


@pytest.fixture(params=["postgres_dsn", "mysql_dsn"], ids=["postgresql", "mariadb"])
async def server_and_flightdeck(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, str]]:
    """The dialect's server, and a Flightdeck database of its own there."""
    server = request.getfixturevalue(request.param)
    database = postgres_database if request.param == "postgres_dsn" else mysql_database
    async with database(server, "agent_fd") as dsn:
        yield server, dsn


@pytest.fixture
def flightdeck_dsn(server_and_flightdeck: tuple[str, str]) -> str:
    return server_and_flightdeck[1]
