"""Applies Flightdeck's versioned migrations, recording them in ``flightdeck_migrations``.

Safe to call from every process at start-up: a database-scoped lock (PostgreSQL
advisory lock, MySQL ``GET_LOCK``) serialises concurrent migrators, and applied
versions are skipped, so the second caller finds nothing to do.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from .queries import load_migrations, split_statements

# Arbitrary constant: the advisory-lock key of the Flightdeck migrator (per database).
PG_LOCK_KEY = 0x0F11_6D7E_C4
MYSQL_LOCK_TIMEOUT_S = 60

_PG_LEDGER = """
CREATE TABLE IF NOT EXISTS "flightdeck_migrations" (
    "version"    integer PRIMARY KEY,
    "name"       text NOT NULL,
    "applied_at" timestamptz NOT NULL DEFAULT now()
)"""

_MYSQL_LEDGER = """
CREATE TABLE IF NOT EXISTS `flightdeck_migrations` (
    `version`    INT NOT NULL PRIMARY KEY,
    `name`       VARCHAR(191) NOT NULL,
    `applied_at` DATETIME(6) NOT NULL
) ENGINE=InnoDB"""


async def migrate_postgresql(conn: asyncpg.Connection) -> list[int]:
    """Apply pending migrations in one transaction; returns the versions applied.

    PostgreSQL DDL is transactional, so a failed migration leaves nothing behind.
    """
    applied_now: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", PG_LOCK_KEY)
        await conn.execute(_PG_LEDGER)
        done = {
            r["version"] for r in await conn.fetch('SELECT "version" FROM "flightdeck_migrations"')
        }
        for migration in load_migrations("postgresql"):
            if migration.version in done:
                continue
            await conn.execute(migration.sql)
            await conn.execute(
                'INSERT INTO "flightdeck_migrations" ("version", "name") VALUES ($1, $2)',
                migration.version,
                migration.name,
            )
            applied_now.append(migration.version)
    return applied_now


async def migrate_mysql(conn: Any) -> list[int]:
    """Apply pending migrations under ``GET_LOCK`` (an asyncmy connection, autocommit).

    MySQL commits DDL implicitly, so each statement is idempotent and the version is
    recorded only after all of a migration's statements ran.
    """
    applied_now: list[int] = []
    async with conn.cursor() as cur:
        await cur.execute(
            "SELECT GET_LOCK(CONCAT('flightdeck_migrations.', DATABASE()), %s)",
            (MYSQL_LOCK_TIMEOUT_S,),
        )
        (got,) = await cur.fetchone()
        if got != 1:
            raise TimeoutError("could not take the Flightdeck migration lock")
        try:
            await cur.execute(_MYSQL_LEDGER)
            await cur.execute("SELECT `version` FROM `flightdeck_migrations`")
            done = {row[0] for row in await cur.fetchall()}
            for migration in load_migrations("mysql"):
                if migration.version in done:
                    continue
                for statement in split_statements(migration.sql):
                    await cur.execute(statement)
                await cur.execute(
                    "INSERT INTO `flightdeck_migrations` (`version`, `name`, `applied_at`) "
                    "VALUES (%s, %s, UTC_TIMESTAMP(6))",
                    (migration.version, migration.name),
                )
                applied_now.append(migration.version)
        finally:
            await cur.execute("SELECT RELEASE_LOCK(CONCAT('flightdeck_migrations.', DATABASE()))")
            await cur.fetchall()
    return applied_now
