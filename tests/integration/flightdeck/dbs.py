"""Throwaway databases for the Flightdeck tests, one per module (or per test that
needs a pristine schema), so the suite can share one server with other tests."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncmy
import asyncpg

from jetbridge.flightdeck.mysql import mysql_connect_kwargs


def _with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@contextlib.asynccontextmanager
async def postgres_database(admin_dsn: str, prefix: str = "fd") -> AsyncIterator[str]:
    """Create a database, yield its DSN, drop it (with its sessions) afterwards."""
    name = unique_name(prefix)
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield _with_database(admin_dsn, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@contextlib.asynccontextmanager
async def mysql_database(admin_dsn: str, prefix: str = "fd") -> AsyncIterator[str]:
    name = unique_name(prefix)
    admin = await asyncmy.connect(**mysql_connect_kwargs(admin_dsn), autocommit=True)
    try:
        async with admin.cursor() as cur:
            await cur.execute(f"CREATE DATABASE `{name}`")
        yield _with_database(admin_dsn, name)
    finally:
        async with admin.cursor() as cur:
            await cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        await admin.ensure_closed()


async def pg_fetch(dsn: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn)
    try:
        return [dict(r) for r in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


async def mysql_fetch(dsn: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    conn = await asyncmy.connect(**mysql_connect_kwargs(dsn), autocommit=True)
    try:
        async with conn.cursor() as cur:
            await cur.execute(sql, args or None)
            rows = await cur.fetchall()
            names = [d[0] for d in cur.description] if cur.description else []
        return [dict(zip(names, row, strict=True)) for row in rows]
    finally:
        await conn.ensure_closed()


async def add_flights(
    conn: asyncpg.Connection,
    prefix: str,
    count: int,
    state: str,
    *,
    cleared_through: int | None = None,
) -> None:
    """``count`` flights ``<prefix>1..`` in ``state`` straight into a PostgreSQL
    Flightdeck's dp_flights, each with a 600-byte plan (a realistic row width), for
    tests of what the planner does with a table of that shape."""
    await conn.execute(
        'INSERT INTO "dp_flights" ("flight_id", "mission_id", "request_id", "deployment_id", '
        '"side", "mode", "plan", "fencing_epoch", "cleared_through", "state") '
        "SELECT $1 || g, 'm', 'r', 'd', 'DESTINATION', 'FORCED', "
        "jsonb_build_object('pad', repeat('x', 600)), 1, $3, $4 FROM generate_series(1, $2) g",
        prefix,
        count,
        cleared_through,
        state,
    )
