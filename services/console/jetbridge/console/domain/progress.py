"""How far a failover is: mission outcomes counted, one number for the progress bar.

A mission counts as done once it is terminal (succeeded, failed or cancelled); the
bar shows done / total. A request that ended with no mission (rejected, cancelled
before it started) is complete at 100 %.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

TERMINAL_REQUEST = frozenset({"SUCCEEDED", "FAILED", "REJECTED", "CANCELLED"})
ACTIVE_REQUEST = frozenset({"PENDING", "IN_PROGRESS"})


@dataclass(frozen=True)
class Progress:
    total: int
    succeeded: int
    failed: int
    cancelled: int
    running: int
    waiting: int
    percent: float

    @property
    def done(self) -> int:
        return self.succeeded + self.failed + self.cancelled


def progress(request_status: str, mission_statuses: Iterable[str]) -> Progress:
    counts = {"SUCCEEDED": 0, "FAILED": 0, "CANCELLED": 0, "RUNNING": 0, "CREATED": 0}
    total = 0
    for status in mission_statuses:
        total += 1
        counts[status] = counts.get(status, 0) + 1
    done = counts["SUCCEEDED"] + counts["FAILED"] + counts["CANCELLED"]
    if total:
        percent = round(100.0 * done / total, 1)
    else:
        percent = 100.0 if request_status in TERMINAL_REQUEST else 0.0
    return Progress(
        total=total,
        succeeded=counts["SUCCEEDED"],
        failed=counts["FAILED"],
        cancelled=counts["CANCELLED"],
        running=counts["RUNNING"],
        waiting=counts["CREATED"],
        percent=percent,
    )


def duration_ms(started_at: int | None, ended_at: int | None, now: int) -> int | None:
    """Elapsed time of something that started; still running ones count up to ``now``."""
    if started_at is None:
        return None
    return max((ended_at if ended_at is not None else now) - started_at, 0)
