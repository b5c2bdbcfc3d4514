"""The read model in PostgreSQL: one schema, rows and ledger positions in one transaction.

Every batch's rows and the positions its events came from are written together, so a
projector killed at any instant resumes at exactly the events it had not applied. One
projector writes a schema at a time (a session advisory lock), so no two fold the
same ledger into it. Writes go through the very session that holds the lock: a
projector whose lock session dropped (and whose lock another projector may hold now)
cannot write another row, where a pooled connection would have let it write stale
rows beside the new writer's.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from jetbridge.common.sql import load_migrations, load_queries, migrate_postgresql
from jetbridge.common.sql.availability import postgres_unavailable
from jetbridge.common.sql.pools import keep_session
from jetbridge.navigator.projections.rows import TABLES, Row

_HERE = Path(__file__).resolve().parent
MIGRATIONS = load_migrations(_HERE / "migrations" / "postgresql")
Q = load_queries(_HERE / "queries.sql")
LEDGER = "jetbridge_projection_migrations"
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
TopicPartition = tuple[str, int]


def schema_name(name: str) -> str:
    """Schema names are identifiers we interpolate: only plain lower-case names."""
    if not _SCHEMA.match(name):
        raise ValueError(f"schema {name!r} must match {_SCHEMA.pattern}")
    return name


class ReadModelStore:
    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self.pool = pool
        self.schema = schema
        self._lock: PoolConnectionProxy | None = None

    @classmethod
    async def open(cls, dsn: str, schema: str = "navigator_read") -> ReadModelStore:
        """Create the schema if needed, migrate it, and pool connections that use it."""
        schema = schema_name(schema)
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            await conn.execute(f'SET search_path TO "{schema}"')
            await migrate_postgresql(conn, MIGRATIONS, ledger=LEDGER)
        finally:
            await conn.close()
        settings = {"search_path": f'"{schema}"', "timezone": "UTC", "datestyle": "ISO, YMD"}
        pool = await asyncpg.create_pool(
            dsn, min_size=1, max_size=3, server_settings=settings, reset=keep_session
        )
        return cls(pool, schema)

    async def close(self) -> None:
        await self.release_lock()
        await self.pool.close()

    async def release_lock(self) -> None:
        """Give the lock up and its connection back, also when its session is gone
        (the server released the lock with it): the pool must get the connection back
        or a projector that lost a few sessions would have none left to take."""
        if self._lock is None:
            return
        conn, self._lock = self._lock, None
        try:
            await conn.execute("SELECT pg_advisory_unlock_all()")
        except Exception as error:  # a lost session (asyncpg detached it): nothing held
            if not postgres_unavailable(error):
                raise
        finally:
            await self.pool.release(conn)

    async def take_lock(self, *, wait: bool = True) -> bool:
        """Become this schema's only writer (held until ``release_lock`` or ``close``)."""
        if self._lock is not None:
            return True
        conn = await self.pool.acquire()
        key = zlib.crc32(f"jetbridge.projections.{self.schema}".encode())
        got = False
        try:
            if wait:
                await conn.execute("SELECT pg_advisory_lock($1)", key)
                got = True
            else:
                got = bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", key))
        finally:
            if got:
                self._lock = conn
            else:  # not taken, or the server went away meanwhile: the connection goes back
                await self.pool.release(conn)
        return got

    async def is_empty(self) -> bool:
        async with self.pool.acquire() as conn:
            return not await conn.fetchval(Q["has_rows"])

    async def positions(self) -> dict[TopicPartition, int]:
        async with self.pool.acquire() as conn:
            found = await conn.fetch(Q["positions"])
        return {(r["topic"], r["partition"]): r["next_offset"] for r in found}

    async def write(
        self, tables: Mapping[str, Sequence[Row]], positions: Mapping[TopicPartition, int]
    ) -> int:
        """Upsert the rows and move the positions, atomically; returns rows written.

        Only the lock holder writes, on the lock's session (module docstring)."""
        conn = self._lock
        if conn is None:
            raise RuntimeError(f"writing schema {self.schema!r} needs its writer lock")
        written = 0
        async with conn.transaction():
            for table in TABLES:
                batch = tables.get(table) or ()
                if batch:
                    await conn.execute(Q[f"upsert_{table}"], *_columns(batch))
                    written += len(batch)
            if positions:
                keys = list(positions)
                await conn.execute(
                    Q["save_positions"],
                    [t for t, _ in keys],
                    [p for _, p in keys],
                    [positions[k] for k in keys],
                )
        return written

    async def checksums(self) -> dict[str, tuple[int, str]]:
        """Per table: row count and the md5 of its rows in key order."""
        async with self.pool.acquire() as conn:
            found = await conn.fetch(Q["checksums"])
        return {r["table"]: (r["rows"], r["md5"]) for r in found}

    async def fetch(self, sql_name: str, *args: Any) -> list[asyncpg.Record]:
        async with self.pool.acquire() as conn:
            return list(await conn.fetch(Q[sql_name], *args))


def _columns(batch: Sequence[Row]) -> list[list[Any]]:
    return [list(column) for column in zip(*batch, strict=True)]
