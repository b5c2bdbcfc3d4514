"""The agent's Prometheus metrics: Flightdeck's queue depth, sampled, and StartFlight calls.

The depth is read with its own small query on its own kept connection (not through the
Flightdeck port: an operator's gauge is no business of the claim store's contract),
once per interval, so a scrape never touches the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from jetbridge.common.sql.dsn import is_mysql_dsn

log = logging.getLogger(__name__)

QUEUE_STATES = ("QUEUED", "RUNNING")
# On PostgreSQL it reads the index of active flights (Flightdeck migration 0005), not
# the table: finished flights kept for the retention cost a count nothing.
DEPTH_SQL = (
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

FLIGHTDECK_BATCH_ITEMS = Histogram(
    "jetbridge_agent_flightdeck_batch_items",
    "Calls served by one Flightdeck batch call (admit: StartFlights; get_many: the "
    "ClearSteps reads; clear_many: the clearances), by operation",
    ["cluster", "operation"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)


def depth_by_state(rows: Mapping[str, int]) -> dict[str, int]:
    """Every queue state, 0 when no row is in it (a gauge must not keep a stale value)."""
    return {state: int(rows.get(state, 0)) for state in QUEUE_STATES}


class QueueDepth:
    """Counts flights per queue state on one kept connection, opened on first use and
    again after any failure. (A new connection per sample meant one login every two
    seconds per data plane, around the clock.) Each count runs in its own transaction:
    a kept MySQL connection would otherwise read one snapshot forever."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._mysql = is_mysql_dsn(dsn)
        self._conn: Any = None

    async def read(self) -> dict[str, int]:
        try:
            if self._conn is None:
                self._conn = await (self._open_mysql if self._mysql else self._open_postgresql)()
            rows = await (self._count_mysql if self._mysql else self._count_postgresql)()
        except Exception:
            await self.close()  # the next read opens a fresh connection
            raise
        return depth_by_state(rows)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        with contextlib.suppress(Exception):
            if self._mysql:
                conn.close()
            else:
                await conn.close(timeout=5)

    async def _open_postgresql(self) -> Any:
        import asyncpg  # noqa: PLC0415 - the driver of the configured dialect only

        return await asyncpg.connect(self._dsn)

    async def _count_postgresql(self) -> dict[str, int]:
        return {r["state"]: r["n"] for r in await self._conn.fetch(DEPTH_SQL)}

    async def _open_mysql(self) -> Any:
        import asyncmy  # noqa: PLC0415

        from jetbridge.flightdeck.mysql import mysql_connect_kwargs  # noqa: PLC0415

        return await asyncmy.connect(**mysql_connect_kwargs(self._dsn), autocommit=True)

    async def _count_mysql(self) -> dict[str, int]:
        async with self._conn.cursor() as cur:
            await cur.execute(DEPTH_SQL)
            return {str(state): int(n) for state, n in await cur.fetchall()}


async def queue_depth(dsn: str) -> dict[str, int]:
    """Flights per queue state in the Flightdeck at ``dsn`` (either dialect), once."""
    depth = QueueDepth(dsn)
    try:
        return await depth.read()
    finally:
        await depth.close()


async def sample_queue_depth(cluster: str, dsn: str, interval_s: float = 2.0) -> None:
    """Set ``jetbridge_flightdeck_flights`` forever; a failed read keeps the last value."""
    depth = QueueDepth(dsn)
    try:
        while True:
            try:
                for state, n in (await depth.read()).items():
                    FLIGHTDECK_FLIGHTS.labels(cluster, state).set(n)
            except Exception:
                log.warning("sampling the Flightdeck queue depth failed", exc_info=True)
            await asyncio.sleep(interval_s)
    finally:
        await depth.close()
