"""Which server a DSN names, by its scheme (every adapter pair picks its driver so)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

MYSQL_SCHEMES = ("mysql", "mariadb")


def is_mysql_dsn(dsn: str) -> bool:
    """``mysql://`` or ``mariadb://``: a MySQL/MariaDB server; anything else PostgreSQL."""
    return dsn.split("://", 1)[0] in MYSQL_SCHEMES


def server_endpoint(dsn: str) -> str:
    """``host:port`` of the server a DSN names, lowercased, with the scheme's default
    port (5432, 3306) when none is given; no user, password or database. A ``host`` or
    ``port`` in the query string counts as the drivers read it; an IPv6 host is
    bracketed. "" when the DSN names no host (a Unix socket). Raises ``ValueError``
    without quoting the DSN (it may hold a password) when it cannot be parsed."""
    try:
        parts = urlsplit(dsn)
        query = dict(parse_qsl(parts.query))
        host = (parts.hostname or query.get("host") or "").lower()
        port = parts.port or int(query.get("port") or (3306 if is_mysql_dsn(dsn) else 5432))
    except ValueError:
        raise ValueError("the DSN is not a URL its host and port can be read from") from None
    if not host or host.startswith("/"):  # a socket directory, not a server
        return ""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
