"""Which server a DSN names, by its scheme (every adapter pair picks its driver so)."""

from __future__ import annotations

from urllib.parse import urlsplit

MYSQL_SCHEMES = ("mysql", "mariadb")


def is_mysql_dsn(dsn: str) -> bool:
    """``mysql://`` or ``mariadb://``: a MySQL/MariaDB server; anything else PostgreSQL."""
    return dsn.split("://", 1)[0] in MYSQL_SCHEMES


def server_endpoint(dsn: str) -> str:
    """``host:port`` of the server a DSN names, lowercased, with the scheme's default
    port (5432, 3306) when none is given; no user, password or database. "" when the DSN
    names no host (a Unix socket)."""
    parts = urlsplit(dsn)
    host = (parts.hostname or "").lower()
    if not host:
        return ""
    port = parts.port or (3306 if is_mysql_dsn(dsn) else 5432)
    return f"{host}:{port}"
