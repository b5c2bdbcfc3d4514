"""Is PostgreSQL away right now (restarting, failing over, unreachable)?

A retry a moment later cures these errors, and nothing else: a caller that reconnects
on them rides out a server restart, where one that gave up on the first would crash
or answer "failed" for what was only a pause (chaos seeds 402 and 519).
"""

from __future__ import annotations

import asyncpg

POSTGRES_AWAY: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable
    TimeoutError,
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.CannotConnectNowError,  # 57P03: starting up or shutting down
    asyncpg.AdminShutdownError,  # 57P01
    asyncpg.CrashShutdownError,  # 57P02
    asyncpg.TooManyConnectionsError,  # 53300
    asyncpg.InterfaceError,  # the connection is closed (mid-restart)
    # "cannot switch to state 12; another operation is in progress": a connection the
    # server dropped in the middle of a query (chaos seed 519, PostgreSQL shutting down)
    asyncpg.InternalClientError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
)


def postgres_unavailable(error: BaseException) -> bool:
    """True for errors a retry a moment later can cure; False for everything else."""
    return isinstance(error, POSTGRES_AWAY)
