"""Flightdeck's SQL files: named queries per dialect and versioned migrations.

The parsing lives in ``jetbridge.common.sql``; this module only knows where
Flightdeck keeps its files (``sql/<dialect>.sql``, ``migrations/<dialect>/``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from jetbridge.common.sql import Migration, parse_named_queries, split_statements
from jetbridge.common.sql import load_migrations as _load_migrations
from jetbridge.common.sql import load_queries as _load_queries

Dialect = Literal["postgresql", "mysql"]

_HERE = Path(__file__).resolve().parent

__all__ = [
    "Dialect",
    "Migration",
    "load_migrations",
    "load_queries",
    "parse_named_queries",
    "split_statements",
]


def load_queries(dialect: Dialect) -> dict[str, str]:
    return _load_queries(_HERE / "sql" / f"{dialect}.sql")


def load_migrations(dialect: Dialect) -> tuple[Migration, ...]:
    return _load_migrations(_HERE / "migrations" / dialect)
