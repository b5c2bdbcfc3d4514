"""What an operator asks the Console to do, checked before any command leaves.

The Navigator decides; the Console only refuses what is malformed or unconfirmed, so
a bad request changes nothing (no command is emitted). Forced failover skips the
drain and can lose running tasks: it needs an explicit confirmation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

REQUEST_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,62}$")
MAX_DRAIN_TIMEOUT_S = 24 * 3600


class Mode(StrEnum):
    CONTROLLED = "CONTROLLED"
    FORCED = "FORCED"


MODE_HELP: dict[Mode, str] = {
    Mode.CONTROLLED: "Drains each Deployment on the source first: scheduling stops and "
    "running tasks may finish (up to the drain timeout) before the database is fenced "
    "and the destination takes over. For planned maintenance or migrations where task "
    "loss is not acceptable. Needs a reachable source.",
    Mode.FORCED: "Fences the databases and brings the destination up at once, without "
    "waiting for the source to drain: running tasks on the source are lost. For when "
    "the source is unreachable or speed matters most. Source cleanup happens later, "
    "once the source is reachable again.",
}


@dataclass(frozen=True)
class Problem:
    """One rule a field broke: the API returns these as a 4xx body."""

    field: str
    rule: str
    message: str


@dataclass(frozen=True)
class StartIntent:
    request_id: str
    source_cluster_id: str
    destination_cluster_id: str
    mode: Mode
    drain_timeout_seconds: int = 600
    exclude_ineligible: bool = False
    confirm_forced: bool = False
    max_concurrent_missions: int = 0
    halt_failure_ratio: float = 1.0
    max_attempts: int = 5


def check_start(intent: StartIntent) -> list[Problem]:
    """Every problem of a start request (empty: it may be sent to the Navigator)."""
    out: list[Problem] = []
    if not REQUEST_ID.match(intent.request_id):
        out.append(
            Problem("request_id", "pattern", f"must match {REQUEST_ID.pattern} (lower case)")
        )
    if intent.source_cluster_id == intent.destination_cluster_id:
        out.append(
            Problem("destination_cluster_id", "differs_from_source", "must differ from the source")
        )
    if intent.mode is Mode.FORCED and not intent.confirm_forced:
        out.append(
            Problem(
                "confirm_forced",
                "required_for_forced",
                "Forced mode skips the drain and can lose running tasks: "
                "set confirm_forced to true to confirm",
            )
        )
    if not 0 <= intent.drain_timeout_seconds <= MAX_DRAIN_TIMEOUT_S:
        out.append(
            Problem(
                "drain_timeout_seconds", "range", f"must be between 0 and {MAX_DRAIN_TIMEOUT_S}"
            )
        )
    if intent.max_concurrent_missions < 0:
        out.append(Problem("max_concurrent_missions", "range", "must be >= 0 (0: no limit)"))
    if not 0.0 < intent.halt_failure_ratio <= 1.0:
        out.append(Problem("halt_failure_ratio", "range", "must be in (0, 1]"))
    if not 1 <= intent.max_attempts <= 100:
        out.append(Problem("max_attempts", "range", "must be between 1 and 100"))
    return out
