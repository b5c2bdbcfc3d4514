"""The Flightdeck contract on a real PostgreSQL 15 (``postgres_dsn``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from jetbridge.flightdeck import Flightdeck, FlightState
from jetbridge.flightdeck.migrator import migrate_postgresql
from jetbridge.flightdeck.postgresql import PostgresFlightdeck

from .contract import FlightdeckContract
from .contract_clearance import ClearanceContract
from .dbs import pg_fetch, postgres_database


@pytest.fixture(scope="module")
async def db_dsn(postgres_dsn: str) -> AsyncIterator[str]:
    async with postgres_database(postgres_dsn, "fd_contract") as dsn:
        yield dsn


class TestPostgresFlightdeck(FlightdeckContract, ClearanceContract):
    @pytest.fixture(autouse=True)
    def _admin(self, postgres_dsn: str) -> None:
        self.admin_dsn = postgres_dsn

    async def open_store(self, dsn: str) -> Flightdeck:
        return await PostgresFlightdeck.open(dsn)

    async def fetch(self, dsn: str, sql: str) -> list[dict[str, Any]]:
        return await pg_fetch(dsn, sql)

    @contextlib.asynccontextmanager
    async def lock_row(self, dsn: str, flight_id: str) -> AsyncIterator[None]:
        conn = await asyncpg.connect(dsn)
        try:
            async with conn.transaction():
                await conn.execute(
                    'SELECT 1 FROM "dp_flights" WHERE "flight_id" = $1 FOR UPDATE', flight_id
                )
                yield
        finally:
            await conn.close()

    def fresh_database(self) -> contextlib.AbstractAsyncContextManager[str]:
        return postgres_database(self.admin_dsn, "fd_migrate")

    async def migrate(self, dsn: str) -> list[int]:
        conn = await asyncpg.connect(dsn)
        try:
            return await migrate_postgresql(conn)
        finally:
            await conn.close()

    async def test_a_cancel_that_waited_on_an_uncommitted_admit_cancels_the_flight(
        self, store: Flightdeck, db_dsn: str
    ) -> None:
        """The race of the contract's racing test, made certain: the admit's insert is
        not committed when the cancel runs, so the cancel's tombstone waits on it, then
        meets it (and inserts nothing), and its snapshot holds neither row. The adapter
        must ask again and cancel the flight that was admitted, not answer nothing."""
        admit = await asyncpg.connect(db_dsn)
        try:
            held = admit.transaction()
            await held.start()
            await admit.execute(
                'INSERT INTO "dp_flights" ("flight_id", "mission_id", "request_id", '
                '"deployment_id", "side", "mode", "plan", "fencing_epoch") '
                "VALUES ('flt-held', 'm', 'r', 'd', 'DESTINATION', 'FORCED', "
                """'[{"step": 0, "kind": "noop"}]'::jsonb, 7)"""
            )
            cancel = asyncio.create_task(store.request_cancel("flt-held"))
            await asyncio.sleep(0.3)
            assert not cancel.done(), "the tombstone's insert did not wait for the admit"
            await held.commit()
            cancelled = await asyncio.wait_for(cancel, 10)
        finally:
            await admit.close()
        assert (cancelled.state, cancelled.cancel_requested) == (FlightState.CANCELLED, True)
        assert not cancelled.never_started and cancelled.plan == [{"step": 0, "kind": "noop"}]
        assert await store.claim("pilot-1", 10, 30) == []
