"""Which server a DSN names, by its scheme (every adapter pair picks its driver so)."""

from __future__ import annotations

MYSQL_SCHEMES = ("mysql", "mariadb")


def is_mysql_dsn(dsn: str) -> bool:
    """``mysql://`` or ``mariadb://``: a MySQL/MariaDB server; anything else PostgreSQL."""
    return dsn.split("://", 1)[0] in MYSQL_SCHEMES
