"""The Flightdeck contract on a real PostgreSQL 15 (``postgres_dsn``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from jetbridge.flightdeck import Flightdeck
from jetbridge.flightdeck.migrator import migrate_postgresql
from jetbridge.flightdeck.postgresql import PostgresFlightdeck

from .contract import UNCOMMITTED_PLAN, FlightdeckContract
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

    @contextlib.asynccontextmanager
    async def uncommitted_flight(self, dsn: str, flight_id: str) -> AsyncIterator[None]:
        conn = await asyncpg.connect(dsn)
        try:
            held = conn.transaction()
            await held.start()
            await conn.execute(
                'INSERT INTO "dp_flights" ("flight_id", "mission_id", "request_id", '
                '"deployment_id", "side", "mode", "plan", "fencing_epoch") '
                "VALUES ($1, 'm', 'r', 'd', 'DESTINATION', 'FORCED', $2::jsonb, 7)",
                flight_id,
                UNCOMMITTED_PLAN,
            )
            yield
            await held.commit()
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
