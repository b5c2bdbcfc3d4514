"""The queue-depth count reads the active flights only, not all of dp_flights.

The agent counts QUEUED and RUNNING flights every two seconds. Finished flights stay
in the table for the Pilot's retention (a week by default), so a count that scans the
table grows with everything the data plane ever ran: 12 ms a count with 2,000 flights
in the 2026-12-06 benchmark. Flightdeck migration 0005 keeps an index of the active
rows alone. The control drops it and shows the scan it replaced.
"""

from __future__ import annotations

import asyncpg
import pytest

from jetbridge.agent.adapters.metrics import DEPTH_SQL, QueueDepth
from jetbridge.flightdeck import open_flightdeck

from ..flightdeck.dbs import add_flights, postgres_database

pytestmark = pytest.mark.integration


async def _plan(admin: asyncpg.Connection) -> str:
    rows = await admin.fetch(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) {DEPTH_SQL}")
    return "\n".join(row[0] for row in rows)


async def test_the_depth_count_reads_the_active_flights_not_the_table(postgres_dsn: str) -> None:
    async with postgres_database(postgres_dsn, "agent_depth_plan") as dsn:
        store = await open_flightdeck(dsn)
        await store.close()  # migrated
        admin = await asyncpg.connect(dsn)
        depth = QueueDepth(dsn)
        try:
            # Statistics of the empty table, as a fresh install has until autovacuum
            # analyzes it; then a week of finished flights and a few active ones.
            await admin.execute('ANALYZE "dp_flights"')
            await add_flights(admin, "done-", 5000, "SUCCEEDED")
            await add_flights(admin, "failed-", 200, "FAILED")
            await add_flights(admin, "queued-", 30, "QUEUED")
            await add_flights(admin, "running-", 10, "RUNNING")
            expected = {"QUEUED": 30, "RUNNING": 10}

            stale = await _plan(admin)
            assert "dp_flights_active_idx" in stale and "Seq Scan" not in stale, stale
            assert await depth.read() == expected

            await admin.execute('ANALYZE "dp_flights"')  # and with what the table holds
            analyzed = await _plan(admin)
            assert "dp_flights_active_idx" in analyzed and "Seq Scan" not in analyzed, analyzed
            assert await depth.read() == expected

            # The control: without the index the count reads every row of the table.
            await admin.execute('DROP INDEX "dp_flights_active_idx"')
            control = await _plan(admin)
            assert "Seq Scan on dp_flights" in control, control
            assert await depth.read() == expected
        finally:
            await depth.close()
            await admin.close()
