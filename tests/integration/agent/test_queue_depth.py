"""The agent's Flightdeck queue-depth sample, on each dialect's real server.

``jetbridge_flightdeck_flights`` counts queued and running flights only (what an
operator alerts on); finished and cancelled ones are not queue depth.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from jetbridge.agent.adapters.metrics import queue_depth
from jetbridge.flightdeck import open_flightdeck

from ..flightdeck.contract import flight
from ..flightdeck.dbs import mysql_database, postgres_database

pytestmark = pytest.mark.integration


@pytest.fixture(params=["postgres_dsn", "mysql_dsn"], ids=["postgresql", "mariadb"])
async def flightdeck_dsn(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A Flightdeck database of its own on the dialect's server."""
    server = request.getfixturevalue(request.param)
    database = postgres_database if request.param == "postgres_dsn" else mysql_database
    async with database(server, "agent_depth") as dsn:
        yield dsn


async def test_the_agents_queue_depth_counts_queued_and_running_only(
    flightdeck_dsn: str,
) -> None:
    store = await open_flightdeck(flightdeck_dsn)
    try:
        assert await queue_depth(flightdeck_dsn) == {"QUEUED": 0, "RUNNING": 0}
        await store.enqueue_many([flight(i) for i in range(4)])
        await store.claim("pilot-1", 2, 30)  # flt-0 and flt-1, in enqueue order
        await store.request_cancel("flt-3")
        assert await queue_depth(flightdeck_dsn) == {"QUEUED": 1, "RUNNING": 2}
    finally:
        await store.close()
