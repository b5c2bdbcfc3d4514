"""A service started while its broker or database is away waits, then goes on.

The address refuses connections until a forwarder to the real server starts listening
on it, a second later: the wait must then end by itself, with failed attempts counted.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

from jetbridge.common.backoff import Backoff
from jetbridge.common.reachable import wait_for_kafka, wait_for_postgres
from jetbridge.flightdeck import open_when_reachable
from tests.integration.forwarder import forward, refused_address

QUICK = Backoff(base=0.1, cap=0.3)


async def _comes_back(port: int, target: str, after_s: float = 1.0) -> asyncio.Server:
    await asyncio.sleep(after_s)
    return await forward(port, target)


async def test_a_broker_away_at_start_is_waited_for(kafka_bootstrap: str) -> None:
    host, port = refused_address()
    back = asyncio.create_task(_comes_back(port, kafka_bootstrap))
    try:
        failures = await asyncio.wait_for(
            wait_for_kafka(f"{host}:{port}", backoff=QUICK), timeout=30
        )
        assert failures >= 1 and back.done()
    finally:
        (await back).close()


async def test_a_database_away_at_start_is_waited_for(pg_database: str) -> None:
    host, port = refused_address()
    parts = urlsplit(pg_database)
    target = f"{parts.hostname}:{parts.port or 5432}"
    credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    netloc = f"{credentials}{host}:{port}"
    away = urlunsplit(parts._replace(netloc=netloc))
    back = asyncio.create_task(_comes_back(port, target))
    try:
        failures = await asyncio.wait_for(wait_for_postgres(away, backoff=QUICK), timeout=30)
        assert failures >= 1 and back.done()
    finally:
        (await back).close()


async def test_a_flightdeck_away_at_start_is_waited_for(pg_database: str) -> None:
    """The agent and the Pilot open Flightdeck this way (chaos seed 711: an agent
    restarted just before PostgreSQL did exited again)."""
    host, port = refused_address()
    parts = urlsplit(pg_database)
    credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    away = urlunsplit(parts._replace(netloc=f"{credentials}{host}:{port}"))
    back = asyncio.create_task(_comes_back(port, f"{parts.hostname}:{parts.port or 5432}"))
    try:
        deck = await asyncio.wait_for(open_when_reachable(away, backoff=QUICK), timeout=30)
        try:
            assert back.done() and await deck.get("no-such-flight") is None
        finally:
            await deck.close()
    finally:
        (await back).close()
