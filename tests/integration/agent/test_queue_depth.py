"""The agent's Flightdeck queue-depth sample, on each dialect's real server.

``jetbridge_flightdeck_flights`` counts queued and running flights only (what an
operator alerts on); finished and cancelled ones are not queue depth. The sampler
keeps one connection: it must see every new commit, and come back after the server
drops it.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import asyncmy
import asyncpg
import pytest

from jetbridge.agent.adapters.metrics import QueueDepth, queue_depth
from jetbridge.flightdeck import open_flightdeck
from jetbridge.flightdeck.mysql import mysql_connect_kwargs

from ..flightdeck.contract import flight

pytestmark = pytest.mark.integration


async def _drop_sessions(server: str, dsn: str) -> int:
    """End every session on the Flightdeck's database, as a server restart would, and
    wait until the server lists none (termination is asynchronous)."""
    name = urlsplit(dsn).path.lstrip("/")
    if server.startswith("postgres"):
        admin = await asyncpg.connect(server)
        try:
            listed = "FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()"
            ended = len(await admin.fetch(f"SELECT pg_terminate_backend(pid) {listed}", name))
            for _ in range(100):
                if not await admin.fetchval(f"SELECT count(*) {listed}", name):
                    return ended
                await asyncio.sleep(0.05)
            raise AssertionError(f"sessions on {name} outlived pg_terminate_backend")
        finally:
            await admin.close()
    admin = await asyncmy.connect(**mysql_connect_kwargs(server), autocommit=True)
    listed = "SELECT id FROM information_schema.processlist WHERE db = %s"
    try:
        async with admin.cursor() as cur:
            await cur.execute(listed, (name,))
            ids = [row[0] for row in await cur.fetchall()]
            for session in ids:
                await cur.execute(f"KILL {int(session)}")
            for _ in range(100):
                await cur.execute(listed, (name,))
                if not await cur.fetchall():
                    return len(ids)
                await asyncio.sleep(0.05)
            raise AssertionError(f"sessions on {name} outlived KILL")
    finally:
        admin.close()


async def test_the_agents_queue_depth_counts_queued_and_running_only(
    server_and_flightdeck: tuple[str, str],
) -> None:
    server, dsn = server_and_flightdeck
    store = await open_flightdeck(dsn)
    depth = QueueDepth(dsn)
    store_open = True
    try:
        assert await queue_depth(dsn) == {"QUEUED": 0, "RUNNING": 0}  # the one-shot form
        assert await depth.read() == {"QUEUED": 0, "RUNNING": 0}
        await store.enqueue_many([flight(i) for i in range(4)])
        await store.claim("pilot-1", 2, 30)  # flt-0 and flt-1, in enqueue order
        await store.request_cancel("flt-3")
        # The kept connection sees the commits made since its last read.
        assert await depth.read() == {"QUEUED": 1, "RUNNING": 2}
        await store.close()
        store_open = False
        assert await _drop_sessions(server, dsn) >= 1  # the sampler's own among them
        with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises
            await depth.read()
        assert await depth.read() == {"QUEUED": 1, "RUNNING": 2}  # on a new connection
    finally:
        await depth.close()
        if store_open:
            await store.close()
