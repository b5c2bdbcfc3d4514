"""The Navigator's Prometheus metrics: missions by state, failover and mission durations.

Durations come from the decisions themselves (the request's ``requested_at`` to its
terminal event's time, the Mission's ``created_at`` to its end), so they are the
Navigator's clock, the one ``make demo`` and the Console report. The state gauge is
a count over the in-memory fleet, sampled at most once a second by the decision loop.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from prometheus_client import Counter as CounterMetric
from prometheus_client import Gauge, Histogram

from jetbridge.common.events import EventRecord
from jetbridge.navigator.domain.fleet import Fleet
from jetbridge.navigator.domain.vocabulary import MissionStatus, RequestStatus

# A failover of one Deployment takes seconds; of hundreds, with drains, up to an hour.
DURATION_BUCKETS = (1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)

MISSIONS = Gauge("jetbridge_missions", "Missions known to the Navigator, by state", ["state"])
REQUESTS = Gauge(
    "jetbridge_failover_requests", "Failover requests known to the Navigator, by state", ["state"]
)
FAILOVER_DURATION = Histogram(
    "jetbridge_failover_duration_seconds",
    "A failover request from its request to its end (Navigator's clock), by outcome",
    ["outcome"],
    buckets=DURATION_BUCKETS,
)
MISSION_DURATION = Histogram(
    "jetbridge_mission_duration_seconds",
    "One Deployment's Mission from its creation to its end (Navigator's clock), by outcome",
    ["outcome"],
    buckets=DURATION_BUCKETS,
)
# Never expected: a data plane wrote about another cluster's flight, or a kind of
# record only the control plane sends (domain/origin.py). Alert on any increase.
MISATTRIBUTED = CounterMetric(
    "jetbridge_misattributed_reports",
    "Records refused because the data plane that sent them may not report them",
)

_REQUEST_ENDS = {
    "FailoverSucceeded": ("SUCCEEDED", "succeeded_at"),
    "FailoverFailed": ("FAILED", "failed_at"),
    "FailoverCancelled": ("CANCELLED", "cancelled_at"),
}
_MISSION_ENDS = {
    "MissionSucceeded": ("SUCCEEDED", "succeeded_at"),
    "MissionFailed": ("FAILED", "failed_at"),
    "MissionCancelled": ("CANCELLED", "cancelled_at"),
}


def counts_by_state(states: Iterable[str], every: Iterable[str]) -> dict[str, int]:
    """Every state with its count, 0 for the ones nothing is in (no stale series)."""
    seen = Counter(states)
    return {state: seen.get(state, 0) for state in every}


def ended(
    record: EventRecord, started_ms: Mapping[str, int], ends: Mapping[str, tuple[str, str]]
) -> tuple[str, float] | None:
    """(outcome, seconds) when ``record`` ends something whose start is known."""
    end = ends.get(record.event_type)
    if end is None:
        return None
    outcome, field = end
    start = started_ms.get(record.envelope.aggregate_id)
    at = record.payload.get(field)
    if not start or not isinstance(at, int):
        return None
    return outcome, max(0.0, (at - start) / 1000)


class NavigatorMetrics:
    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet

    def observe(self, decided: Iterable[EventRecord]) -> None:
        """Durations of what the batch just ended."""
        for record in decided:
            if record.event_type in _REQUEST_ENDS:
                starts = {
                    record.envelope.aggregate_id: self._requested_at(record.envelope.aggregate_id)
                }
                if done := ended(record, starts, _REQUEST_ENDS):
                    FAILOVER_DURATION.labels(done[0]).observe(done[1])
            elif record.event_type in _MISSION_ENDS:
                mission = self.fleet.missions.get(record.envelope.aggregate_id)
                starts = {mission.id: mission.created_at} if mission is not None else {}
                if done := ended(record, starts, _MISSION_ENDS):
                    MISSION_DURATION.labels(done[0]).observe(done[1])

    def _requested_at(self, request_id: str) -> int:
        request = self.fleet.requests.get(request_id)
        return request.requested_at if request is not None else 0

    def sample(self) -> None:
        missions = counts_by_state(
            (m.status.value for m in self.fleet.missions.values()), (s.value for s in MissionStatus)
        )
        for state, n in missions.items():
            MISSIONS.labels(state).set(n)
        requests = counts_by_state(
            (r.status.value for r in self.fleet.requests.values()), (s.value for s in RequestStatus)
        )
        for state, n in requests.items():
            REQUESTS.labels(state).set(n)
