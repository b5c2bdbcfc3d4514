"""Flightdeck locks a batch's rows in one order on any database collation.

The Pilot's ``record_many`` and ``complete_many`` lock flights in the order the adapter
sorts their ids (Python: code points), the agent's ``clear_many`` in its ``ORDER BY``.
Sorted by a database's own collation, "r/Zeta" and "r/alpha" come the other way round
on an en-US database (the local stack's is C, where the two agree), and two statements
that lock one set of rows in two orders deadlock (found by a review, 2026-12-07). The
test makes a database whose collation is ICU en-US and shows which row ``clear_many``
takes first: it holds one row, lets the statement block on it, and asks for the other.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from jetbridge.flightdeck.models import StepClearance
from jetbridge.flightdeck.postgresql import PostgresFlightdeck

from .dbs import unique_name

pytestmark = pytest.mark.integration

SQL = (
    Path(__file__).resolve().parents[3] / "libs/flightdeck/jetbridge/flightdeck/sql/postgresql.sql"
)
UPPER, LOWER = "r/Zeta/destination", "r/alpha/destination"  # C order: UPPER first


@pytest.fixture
async def en_us_dsn(postgres_dsn: str) -> AsyncIterator[str]:
    name = unique_name("fd_en_us")
    admin = await asyncpg.connect(postgres_dsn)
    try:
        await admin.execute(
            f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' "
            "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'"
        )
        yield re.sub(r"/[^/?]*(\?|$)", f"/{name}\\1", postgres_dsn, count=1)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def test_every_order_by_flight_id_in_the_postgresql_queries_is_in_byte_order() -> None:
    orders = re.findall(r'ORDER BY [^\n]*"flight_id"[^\n]*', SQL.read_text())
    assert orders, "no ORDER BY on flight_id found: the check looks at nothing"
    assert all('"flight_id" COLLATE "C"' in o for o in orders), orders


async def test_clear_many_locks_in_the_order_the_pilot_locks_on_an_en_us_database(
    en_us_dsn: str,
) -> None:
    admin = await asyncpg.connect(en_us_dsn)
    deck = await PostgresFlightdeck.open(en_us_dsn)
    holder = await asyncpg.connect(en_us_dsn)
    try:
        # the database's own order is the other one: the premise of the test
        ordered = await admin.fetch(
            "SELECT x FROM unnest($1::text[]) AS x ORDER BY x", [UPPER, LOWER]
        )
        assert [r["x"] for r in ordered] == [LOWER, UPPER]
        assert sorted([LOWER, UPPER]) == [UPPER, LOWER]  # Python's, as record_many sorts
        for flight_id in (UPPER, LOWER):
            await admin.execute(
                'INSERT INTO "dp_flights" ("flight_id", "mission_id", "request_id", '
                '"deployment_id", "side", "mode", "plan", "fencing_epoch", '
                "\"cleared_through\", \"state\") VALUES ($1, 'm', 'r', 'd', "
                "'DESTINATION', 'FORCED', '[]'::jsonb, 1, 0, 'QUEUED')",
                flight_id,
            )
        tx = holder.transaction()
        await tx.start()
        await holder.execute('SELECT 1 FROM "dp_flights" WHERE "flight_id" = $1 FOR UPDATE', LOWER)
        clearing = asyncio.create_task(
            deck.clear_many(
                [StepClearance(f, f"c-{i}", 1, 1) for i, f in enumerate((LOWER, UPPER))]
            )
        )
        for _ in range(100):  # until the statement waits on the held row
            waiting = await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
            if waiting:
                break
            await asyncio.sleep(0.05)
        assert waiting, "clear_many never waited on the held row"
        # It took the other row before it blocked: the Pilot's order, not en-US's.
        with pytest.raises(asyncpg.LockNotAvailableError):
            await admin.execute(
                'SELECT 1 FROM "dp_flights" WHERE "flight_id" = $1 FOR UPDATE NOWAIT', UPPER
            )
        await tx.rollback()
        cleared = await asyncio.wait_for(clearing, 10)
        assert [c is not None for c in cleared] == [True, True]
    finally:
        await holder.close()
        await deck.close()
        await admin.close()
