"""Pick the adapter from the DSN scheme, so callers configure one URL."""

from __future__ import annotations

from typing import Any

from .port import Flightdeck


async def open_flightdeck(dsn: str, **options: Any) -> Flightdeck:
    """``postgresql://...`` -> PostgreSQL adapter, ``mysql://...`` -> MySQL adapter.

    Imports lazily so a PostgreSQL-only deployment never needs the MySQL driver.
    """
    scheme = dsn.split("://", 1)[0].lower()
    if scheme in ("postgresql", "postgres"):
        from .postgresql import PostgresFlightdeck  # noqa: PLC0415 - optional driver

        return await PostgresFlightdeck.open(dsn, **options)
    if scheme in ("mysql", "mariadb"):
        from .mysql import MySQLFlightdeck  # noqa: PLC0415 - optional driver

        return await MySQLFlightdeck.open(dsn, **options)
    raise ValueError(f"unsupported Flightdeck DSN scheme {scheme!r}")
