"""Is the claim store away right now (restarting, failing over, unreachable)?

Callers that report to someone else (the agent's RPCs) must say "try again" for these,
not "failed": a Dispatcher treats an unknown server error as permanent, and one
PostgreSQL restart then failed every Mission whose clearance it was sending (chaos
seed 402: ``CannotConnectNowError`` went back to the Dispatcher as gRPC UNKNOWN).
"""

from __future__ import annotations

from asyncmy.errors import InterfaceError as MySQLInterfaceError
from asyncmy.errors import OperationalError as MySQLOperationalError

from jetbridge.common.sql.availability import postgres_unavailable

# MySQL/MariaDB client and server codes that mean "the server is not there now":
# can't connect (2002, 2003), gone (2006), lost (2013), shutting down (1053),
# connection killed (1927), too many connections (1040).
_MYSQL_AWAY = frozenset({1040, 1053, 1927, 2002, 2003, 2006, 2013})


def store_unavailable(error: BaseException) -> bool:
    """True for errors a retry a moment later can cure; False for everything else."""
    if postgres_unavailable(error):  # and OSError, TimeoutError: any dialect's
        return True
    if isinstance(error, MySQLOperationalError | MySQLInterfaceError):
        code = error.args[0] if error.args and isinstance(error.args[0], int) else None
        return code in _MYSQL_AWAY or isinstance(error, MySQLInterfaceError)
    return False
