"""A claim is planned for dp_flights as it is now, not as it was when first prepared.

asyncpg prepares every statement once per connection, and PostgreSQL gives a prepared
statement a generic plan after five runs, from the table's statistics of that moment,
kept until the table is analyzed again. A Pilot's first failover after a fresh install
claims from a table that was small when the plan was made: the claim's generic plan
then read the whole table on every call (a sequential scan). Claims run on connections
that plan them on every call (``_CLAIM_SETTINGS``). The test analyzes the new table
while it is empty, so that its statistics are the same on every run.
"""

from __future__ import annotations

import asyncpg
import pytest

from jetbridge.flightdeck.postgresql import PostgresFlightdeck
from jetbridge.flightdeck.queries import load_queries

from .dbs import add_flights, postgres_database

pytestmark = pytest.mark.integration

CLAIM = load_queries("postgresql")["claim"].strip().removesuffix(";")


async def _add(admin: asyncpg.Connection, prefix: str, count: int, state: str) -> None:
    await add_flights(admin, prefix, count, state, cleared_through=5)


async def _plan_after_growth(conn: asyncpg.Connection, admin: asyncpg.Connection, tag: str) -> str:
    """The claim prepared on ``conn`` and run seven times while the table is small (20
    queued flights), then explained once 5,000 finished flights (what a week's
    retention keeps) and 40 queued ones are there."""
    await _add(admin, f"{tag}-small-", 20, "QUEUED")
    await conn.execute(f"PREPARE claim_now(text, integer, double precision) AS {CLAIM}")
    for _ in range(7):  # past the five runs after which a generic plan may stick
        await conn.execute(f"EXECUTE claim_now('{tag}', 2, 30.0)")
    await _add(admin, f"{tag}-done-", 5000, "SUCCEEDED")
    await _add(admin, f"{tag}-queued-", 40, "QUEUED")
    rows = await conn.fetch(f"EXPLAIN EXECUTE claim_now('{tag}', 4, 30.0)")
    await conn.execute("DEALLOCATE claim_now")
    return "\n".join(row[0] for row in rows)


async def _plan_in_a_new_table(postgres_dsn: str, *, claims: bool) -> tuple[str, int]:
    """The claim's plan after growth on a fresh Flightdeck (dp_flights analyzed while
    empty), prepared on one of the connections ``claim()`` uses or on a connection with
    default settings; and how many flights ``claim()`` then took, through the claims
    pool (checked: it sent the claim there and nothing else)."""
    async with postgres_database(postgres_dsn, "fd_claim_plan") as dsn:
        deck = await PostgresFlightdeck.open(dsn)
        admin = await asyncpg.connect(dsn)
        try:
            await admin.execute('ANALYZE "dp_flights"')
            if claims:
                async with deck._claims.acquire() as conn:  # claim()'s own connections
                    plan = await _plan_after_growth(conn, admin, "claims")
            else:
                plain = await asyncpg.connect(dsn)
                try:
                    plan = await _plan_after_growth(plain, admin, "plain")
                finally:
                    await plain.close()
            deck._claims = recording = _Recording(deck._claims)  # type: ignore[assignment]
            claimed = len(await deck.claim("pilot", 3, 30.0))
            queries = recording.queries
        finally:
            await admin.close()
            await deck.close()
    assert [query.strip().removesuffix(";") for query in queries] == [CLAIM]  # claim() ran there
    return plan, claimed


class _Recording:
    """The claims pool, recording what ``claim()`` sends through it."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool, self.queries = pool, list[str]()

    async def fetch(self, query: str, *args: object) -> list[asyncpg.Record]:
        self.queries.append(query)
        return await self.pool.fetch(query, *args)

    async def close(self) -> None:
        await self.pool.close()


async def test_claims_probe_the_table_as_it_grew_not_as_it_was(postgres_dsn: str) -> None:
    # The control: on a connection with the default settings, the plan made for the
    # small table stays, and reads all of dp_flights.
    plain_plan, _ = await _plan_in_a_new_table(postgres_dsn, claims=False)
    assert "Seq Scan on dp_flights f" in plain_plan, plain_plan
    claims_plan, claimed = await _plan_in_a_new_table(postgres_dsn, claims=True)
    assert "Seq Scan" not in claims_plan, claims_plan
    assert "dp_flights_pkey" in claims_plan, claims_plan
    assert claimed == 3
