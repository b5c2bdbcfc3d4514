"""Applies Flightdeck's versioned migrations, recorded in ``flightdeck_migrations``.

Safe to call from every process at start-up (see ``jetbridge.common.sql.migrate``:
a per-database lock serialises migrators and applied versions are skipped).
"""

from __future__ import annotations

from typing import Any

from jetbridge.common import sql
from jetbridge.common.sql import PgConnection

from .queries import load_migrations

LEDGER = "flightdeck_migrations"


async def migrate_postgresql(conn: PgConnection) -> list[int]:
    """Apply pending migrations in one transaction; returns the versions applied."""
    return await sql.migrate_postgresql(conn, load_migrations("postgresql"), ledger=LEDGER)


async def migrate_mysql(conn: Any) -> list[int]:
    """Apply pending migrations under ``GET_LOCK`` (an asyncmy connection, autocommit)."""
    return await sql.migrate_mysql(conn, load_migrations("mysql"), ledger=LEDGER)
