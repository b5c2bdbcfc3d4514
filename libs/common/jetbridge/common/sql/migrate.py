"""Applying versioned migrations, recorded in a per-component ledger table.

Safe to call from every process at start-up: a database-scoped lock (PostgreSQL
advisory lock, MySQL ``GET_LOCK``) serialises concurrent migrators, and applied
versions are skipped, so the second caller finds nothing to do.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from jetbridge.common.sql.files import Migration, split_statements

_LEDGER_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
MYSQL_LOCK_TIMEOUT_S = 60
# ER_DUP_FIELDNAME, ER_DUP_KEYNAME: an ADD COLUMN / ADD KEY that a run interrupted
# between that statement and the ledger's row already applied. MySQL 8 has no IF NOT
# EXISTS for either (MariaDB has), so such a statement is not idempotent by itself.
_MYSQL_ALREADY_APPLIED = frozenset({1060, 1061})

# A plain connection or one borrowed from a pool: our SQL runs on either.
PgConnection = asyncpg.Connection | PoolConnectionProxy


def _ledger(name: str) -> str:
    # Ledger names are constants of our own code; checked, then used as identifiers.
    if not _LEDGER_NAME.match(name):
        raise ValueError(f"ledger table name {name!r} must match {_LEDGER_NAME.pattern}")
    return name


def _lock_key(ledger: str) -> int:
    return zlib.crc32(ledger.encode())


async def migrate_postgresql(
    conn: PgConnection, migrations: Sequence[Migration], *, ledger: str
) -> list[int]:
    """Apply pending migrations in one transaction; returns the versions applied.

    PostgreSQL DDL is transactional, so a failed migration leaves nothing behind.
    """
    table = _ledger(ledger)
    applied_now: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _lock_key(table))
        await conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{table}" ('
            '"version" integer PRIMARY KEY, "name" text NOT NULL, '
            '"applied_at" timestamptz NOT NULL DEFAULT now())'
        )
        done = {r["version"] for r in await conn.fetch(f'SELECT "version" FROM "{table}"')}  # noqa: S608
        for migration in migrations:
            if migration.version in done:
                continue
            await conn.execute(migration.sql)
            await conn.execute(
                f'INSERT INTO "{table}" ("version", "name") VALUES ($1, $2)',  # noqa: S608
                migration.version,
                migration.name,
            )
            applied_now.append(migration.version)
    return applied_now


async def migrate_mysql(conn: Any, migrations: Sequence[Migration], *, ledger: str) -> list[int]:
    """Apply pending migrations under ``GET_LOCK`` (an asyncmy connection, autocommit).

    MySQL commits DDL implicitly, so each statement is idempotent and the version is
    recorded only after all of a migration's statements ran.
    """
    table = _ledger(ledger)
    lock_name = f"{table}."
    applied_now: list[int] = []
    async with conn.cursor() as cur:
        await cur.execute(
            "SELECT GET_LOCK(CONCAT(%s, DATABASE()), %s)", (lock_name, MYSQL_LOCK_TIMEOUT_S)
        )
        (got,) = await cur.fetchone()
        if got != 1:
            raise TimeoutError(f"could not take the migration lock of {table}")
        try:
            await cur.execute(
                f"CREATE TABLE IF NOT EXISTS `{table}` ("
                "`version` INT NOT NULL PRIMARY KEY, `name` VARCHAR(191) NOT NULL, "
                "`applied_at` DATETIME(6) NOT NULL) ENGINE=InnoDB"
            )
            await cur.execute(f"SELECT `version` FROM `{table}`")  # noqa: S608
            done = {row[0] for row in await cur.fetchall()}
            for migration in migrations:
                if migration.version in done:
                    continue
                for statement in split_statements(migration.sql):
                    try:
                        await cur.execute(statement)
                    except Exception as error:
                        if _mysql_errno(error) not in _MYSQL_ALREADY_APPLIED:
                            raise
                await cur.execute(
                    f"INSERT INTO `{table}` (`version`, `name`, `applied_at`) "  # noqa: S608
                    "VALUES (%s, %s, UTC_TIMESTAMP(6))",
                    (migration.version, migration.name),
                )
                applied_now.append(migration.version)
        finally:
            await cur.execute("SELECT RELEASE_LOCK(CONCAT(%s, DATABASE()))", (lock_name,))
            await cur.fetchall()
    return applied_now


def _mysql_errno(error: Exception) -> int | None:
    """The server's error number of a MySQL driver error (its first argument)."""
    code = error.args[0] if error.args else None
    return code if isinstance(code, int) else None
