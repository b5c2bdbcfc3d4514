"""Exit codes of ``jetbridge``: scripts branch on these, so they never change meaning.

| code | meaning |
|---|---|
| 0 | done; a watched failover SUCCEEDED; a plan would be accepted |
| 1 | a watched failover ended FAILED |
| 2 | usage error (bad arguments) |
| 3 | refused: the plan would be refused, the start was ineligible, REJECTED or refused |
| 4 | not authenticated (401) or role too low (403) |
| 5 | not found (404) |
| 6 | the console could not be reached, timed out or answered 5xx |
| 7 | a watched failover ended CANCELLED |
| 8 | invalid input (422): the message names the field and the rule |
| 9 | `audit verify` found breaks in the ledger's hash chains |
| 130 | interrupted (Ctrl-C) |
"""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    REFUSED = 3
    AUTH = 4
    NOT_FOUND = 5
    UNAVAILABLE = 6
    CANCELLED = 7
    INVALID = 8
    BROKEN = 9
    INTERRUPTED = 130


END_STATUS: dict[str, Exit] = {
    "SUCCEEDED": Exit.OK,
    "FAILED": Exit.FAILED,
    "REJECTED": Exit.REFUSED,
    "CANCELLED": Exit.CANCELLED,
}


def for_http_status(status: int) -> Exit:
    if status in (401, 403):
        return Exit.AUTH
    if status == 404:
        return Exit.NOT_FOUND
    if status == 409:
        return Exit.REFUSED
    if status in (400, 422):
        return Exit.INVALID
    return Exit.UNAVAILABLE


def for_request_status(status: str) -> Exit | None:
    """The exit code once a failover ended; None while it still runs."""
    return END_STATUS.get(status)
