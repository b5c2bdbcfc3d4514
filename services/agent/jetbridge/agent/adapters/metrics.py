"""The agent's Prometheus metrics: Flightdeck's queue depth, sampled, and StartFlight calls.

The depth is read with its own small query on its own connection (not through the
Flightdeck port: an operator's gauge is no business of the claim store's contract),
once per interval, so a scrape never touches the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from prometheus_client import Counter, Gauge

log = logging.getLogger(__name__)

QUEUE_STATES = ("QUEUED", "RUNNING")
_DEPTH_SQL = (
    "SELECT state, count(*) AS n FROM dp_flights"
    " WHERE state IN ('QUEUED', 'RUNNING') GROUP BY state"
)

FLIGHTDECK_FLIGHTS = Gauge(
    "jetbridge_flightdeck_flights",
    "Flightdeck rows waiting (QUEUED) or claimed (RUNNING) on this data plane (sampled)",
    ["cluster", "state"],
)
START_FLIGHT_CALLS = Counter(
    "jetbridge_agent_start_flight_total",
    "StartFlight calls handled, by whether they queued a new flight",
    ["cluster", "created"],
)


def depth_by_state(rows: Mapping[str, int]) -> dict[str, int]:
    """Every queue state, 0 when no row is in it (a gauge must not keep a stale value)."""
    return {state: int(rows.get(state, 0)) for state in QUEUE_STATES}


async def _count_postgresql(dsn: str) -> dict[str, int]:
    import asyncpg  # noqa: PLC0415 - the driver of the configured dialect only

    conn = await asyncpg.connect(dsn)
    try:
        return {r["state"]: r["n"] for r in await conn.fetch(_DEPTH_SQL)}
    finally:
        await conn.close()


async def _count_mysql(dsn: str) -> dict[str, int]:
    import asyncmy  # noqa: PLC0415

    from jetbridge.flightdeck.mysql import mysql_connect_kwargs  # noqa: PLC0415

    conn = await asyncmy.connect(**mysql_connect_kwargs(dsn))
    try:
        async with conn.cursor() as cur:
            await cur.execute(_DEPTH_SQL)
            return {str(state): int(n) for state, n in await cur.fetchall()}
    finally:
        conn.close()


async def queue_depth(dsn: str) -> dict[str, int]:
    """Flights per queue state in the Flightdeck at ``dsn`` (either dialect)."""
    mysql = dsn.split("://", 1)[0] in ("mysql", "mariadb")
    return depth_by_state(await (_count_mysql if mysql else _count_postgresql)(dsn))


async def sample_queue_depth(cluster: str, dsn: str, interval_s: float = 2.0) -> None:
    """Set ``jetbridge_flightdeck_flights`` forever; a failed read keeps the last value."""
    while True:
        try:
            for state, n in (await queue_depth(dsn)).items():
                FLIGHTDECK_FLIGHTS.labels(cluster, state).set(n)
        except Exception:
            log.warning("sampling the Flightdeck queue depth failed", exc_info=True)
        await asyncio.sleep(interval_s)
