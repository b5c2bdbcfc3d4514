"""Pick the adapter from the DSN scheme, so callers configure one URL."""

from __future__ import annotations

from typing import Any

from jetbridge.common.backoff import Backoff
from jetbridge.common.reachable import BACKOFF, until_reachable

from .availability import store_unavailable
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


async def open_when_reachable(
    dsn: str, *, backoff: Backoff = BACKOFF, **options: Any
) -> Flightdeck:
    """``open_flightdeck``, waiting out a database away at start (restarting, failing
    over, not up yet) instead of failing: the agent and the Pilot used to exit, and
    under Kubernetes the crash-loop back-off could keep them down after the outage
    (``jetbridge.common.reachable``). Other errors, a wrong password, still raise."""
    opened: list[Flightdeck] = []

    async def attempt() -> None:
        opened.append(await open_flightdeck(dsn, **options))

    await until_reachable(attempt, "Flightdeck", store_unavailable, backoff=backoff)
    return opened[-1]
