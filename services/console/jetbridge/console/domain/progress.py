"""How far a failover is: mission outcomes counted, one number for the progress bar.

Missions run side by side and end together, so counting finished missions alone
makes the bar jump from 0 to 100. The percentage counts flight steps instead: a
running mission contributes the steps that succeeded, a terminal one all of its steps
(whatever remains of a failed or cancelled mission will not run). A request that
ended with no mission (rejected, cancelled before it started) is complete at 100 %.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

TERMINAL_REQUEST = frozenset({"SUCCEEDED", "FAILED", "REJECTED", "CANCELLED"})
ACTIVE_REQUEST = frozenset({"PENDING", "IN_PROGRESS"})
TERMINAL_MISSION = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})


@dataclass(frozen=True)
class MissionProgress:
    status: str
    steps_done: int
    steps_total: int


@dataclass(frozen=True)
class Progress:
    total: int
    succeeded: int
    failed: int
    cancelled: int
    running: int
    waiting: int
    steps_done: int
    steps_total: int
    percent: float

    @property
    def done(self) -> int:
        return self.succeeded + self.failed + self.cancelled


def progress(request_status: str, missions: Iterable[MissionProgress]) -> Progress:
    counts = {"SUCCEEDED": 0, "FAILED": 0, "CANCELLED": 0, "RUNNING": 0, "CREATED": 0}
    total = steps_done = steps_total = 0
    for m in missions:
        total += 1
        counts[m.status] = counts.get(m.status, 0) + 1
        steps_total += m.steps_total
        steps_done += m.steps_total if m.status in TERMINAL_MISSION else m.steps_done
    if steps_total:
        percent = round(100.0 * steps_done / steps_total, 1)
    else:
        percent = 100.0 if request_status in TERMINAL_REQUEST else 0.0
    return Progress(
        total=total,
        succeeded=counts["SUCCEEDED"],
        failed=counts["FAILED"],
        cancelled=counts["CANCELLED"],
        running=counts["RUNNING"],
        waiting=counts["CREATED"],
        steps_done=steps_done,
        steps_total=steps_total,
        percent=percent,
    )


def duration_ms(started_at: int | None, ended_at: int | None, now: int) -> int | None:
    """Elapsed time of something that started; still running ones count up to ``now``."""
    if started_at is None:
        return None
    return max((ended_at if ended_at is not None else now) - started_at, 0)
