"""SQL kept in ``.sql`` files: named queries and versioned migrations (any dialect)."""

from jetbridge.common.sql.files import (
    Migration,
    load_migrations,
    load_queries,
    parse_named_queries,
    split_statements,
)
from jetbridge.common.sql.migrate import PgConnection, migrate_mysql, migrate_postgresql

__all__ = [
    "Migration",
    "PgConnection",
    "load_migrations",
    "load_queries",
    "migrate_mysql",
    "migrate_postgresql",
    "parse_named_queries",
    "split_statements",
]
