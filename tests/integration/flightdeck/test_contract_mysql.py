"""The Flightdeck contract on a real MariaDB (``mysql_dsn``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncmy
import pytest

from jetbridge.flightdeck import Flightdeck
from jetbridge.flightdeck.migrator import migrate_mysql
from jetbridge.flightdeck.mysql import MySQLFlightdeck, mysql_connect_kwargs

from .contract import UNCOMMITTED_PLAN, FlightdeckContract
from .contract_clearance import ClearanceContract
from .dbs import mysql_database, mysql_fetch


@pytest.fixture(scope="module")
async def db_dsn(mysql_dsn: str) -> AsyncIterator[str]:
    async with mysql_database(mysql_dsn, "fd_contract") as dsn:
        yield dsn


class TestMySQLFlightdeck(FlightdeckContract, ClearanceContract):
    @pytest.fixture(autouse=True)
    def _admin(self, mysql_dsn: str) -> None:
        self.admin_dsn = mysql_dsn

    async def open_store(self, dsn: str) -> Flightdeck:
        return await MySQLFlightdeck.open(dsn)

    async def fetch(self, dsn: str, sql: str) -> list[dict[str, Any]]:
        return await mysql_fetch(dsn, sql)

    @contextlib.asynccontextmanager
    async def lock_row(self, dsn: str, flight_id: str) -> AsyncIterator[None]:
        conn = await asyncmy.connect(**mysql_connect_kwargs(dsn), autocommit=True)
        try:
            await conn.begin()
            async with conn.cursor() as cur:
                await cur.execute(
                    "SELECT 1 FROM `dp_flights` WHERE `flight_id` = %s FOR UPDATE", (flight_id,)
                )
                await cur.fetchall()
            yield
            await conn.rollback()
        finally:
            await conn.ensure_closed()

    @contextlib.asynccontextmanager
    async def uncommitted_flight(self, dsn: str, flight_id: str) -> AsyncIterator[None]:
        conn = await asyncmy.connect(**mysql_connect_kwargs(dsn), autocommit=True)
        try:
            await conn.begin()
            async with conn.cursor() as cur:
                await cur.execute(
                    "INSERT INTO `dp_flights` (`flight_id`, `mission_id`, `request_id`, "
                    "`deployment_id`, `side`, `mode`, `plan`, `fencing_epoch`, `step_results`, "
                    "`created_at`, `updated_at`) VALUES (%s, 'm', 'r', 'd', 'DESTINATION', "
                    "'FORCED', %s, 7, '{}', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))",
                    (flight_id, UNCOMMITTED_PLAN),
                )
            yield
            await conn.commit()
        finally:
            await conn.ensure_closed()

    def fresh_database(self) -> contextlib.AbstractAsyncContextManager[str]:
        return mysql_database(self.admin_dsn, "fd_migrate")

    async def migrate(self, dsn: str) -> list[int]:
        conn = await asyncmy.connect(**mysql_connect_kwargs(dsn), autocommit=True)
        try:
            return await migrate_mysql(conn)
        finally:
            await conn.ensure_closed()

    async def test_a_migration_interrupted_before_its_ledger_row_applies_again(self) -> None:
        """MySQL commits each DDL statement: a crash after 0004's ALTER and before its
        ledger row leaves the index without the version. The next run must finish it."""
        async with self.fresh_database() as dsn:
            assert await self.migrate(dsn) == [1, 2, 3, 4, 5]
            await self.fetch(dsn, "DELETE FROM flightdeck_migrations WHERE version >= 3")
            assert await self.migrate(dsn) == [3, 4, 5]  # column and key already there
            ledger = await self.fetch(dsn, "SELECT version FROM flightdeck_migrations")
            assert sorted(int(r["version"]) for r in ledger) == [1, 2, 3, 4, 5]
