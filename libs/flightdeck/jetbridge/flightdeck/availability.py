"""Is the claim store away right now (restarting, failing over, unreachable)?

Callers that report to someone else (the agent's RPCs) must say "try again" for these,
not "failed": a Dispatcher treats an unknown server error as permanent, and one
PostgreSQL restart then failed every Mission whose clearance it was sending (chaos
seed 402: ``CannotConnectNowError`` went back to the Dispatcher as gRPC UNKNOWN).
"""

from __future__ import annotations

import asyncpg
from asyncmy.errors import InterfaceError as MySQLInterfaceError
from asyncmy.errors import OperationalError as MySQLOperationalError

# MySQL/MariaDB client and server codes that mean "the server is not there now":
# can't connect (2002, 2003), gone (2006), lost (2013), shutting down (1053),
# connection killed (1927), too many connections (1040).
_MYSQL_AWAY = frozenset({1040, 1053, 1927, 2002, 2003, 2006, 2013})
_PG_AWAY = (
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


def store_unavailable(error: BaseException) -> bool:
    """True for errors a retry a moment later can cure; False for everything else."""
    if isinstance(error, (OSError, TimeoutError, *_PG_AWAY)):
        return True
    if isinstance(error, MySQLOperationalError | MySQLInterfaceError):
        code = error.args[0] if error.args and isinstance(error.args[0], int) else None
        return code in _MYSQL_AWAY or isinstance(error, MySQLInterfaceError)
    return False
