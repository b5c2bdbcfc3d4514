"""How often each failover step ran, told apart by the claim it ran under.

A step attempt may legitimately start twice: its Pilot stalled past the lease (a
long pause, a frozen machine), the flight was claimed again with a higher fencing
token, and the new claim re-ran the step from the top while the old claim's writes
were refused. That is the designed recovery, not a double execution. A double
execution is a step attempt started twice under the *same* claim, or a step that
*succeeded* twice: either would mean the fencing did not hold.

Pure: fed with decoded events of ``jetbridge.flight.events`` in topic order (one
flight's events share a key, hence a partition, hence an order).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jetbridge.pilot.domain.reports import SUCCESSES, start_of, step_of


@dataclass(frozen=True)
class FlightEvent:
    event_id: str
    event_type: str
    payload: Mapping[str, Any]


def tally(events: Iterable[FlightEvent], shown: int = 20) -> dict[str, Any]:
    """The bench's execution checks; provisioning flights (``provision/...``) skipped."""
    seen: set[str] = set()  # a relay may publish a batch twice: dedupe by event id
    claims: Counter[str] = Counter()
    owners: dict[str, set[str]] = defaultdict(set)
    token: dict[str, int] = {}  # the flight's latest claim
    starts: dict[tuple[str, str, int], list[int]] = defaultdict(list)
    succeeded: Counter[tuple[str, str]] = Counter()
    for e in events:
        if e.event_id in seen:
            continue
        seen.add(e.event_id)
        fid = str(e.payload.get("flight_id", ""))
        if not fid or fid.startswith("provision/"):
            continue
        if e.event_type == "FlightClaimed":
            claims[fid] += 1
            owners[fid].add(str(e.payload["owner"]))
            token[fid] = int(e.payload["fencing_token"])
        if (start := start_of(e.event_type, e.payload)) is not None:
            starts[(fid, *start)].append(token.get(fid, -1))
        if e.event_type in SUCCESSES:
            succeeded[(fid, step_of(e.event_type, e.payload) or "?")] += 1
    doubles = sorted(f"{f}/{s}: {n} successes" for (f, s), n in succeeded.items() if n > 1)
    reruns = []
    for (f, s, a), tokens in sorted(starts.items()):
        if len(tokens) < 2:
            continue
        label = f"{f}/{s}#{a}: started {len(tokens)}x"
        if len(set(tokens)) < len(tokens):
            doubles.append(label + " under one claim")
        else:
            reruns.append(label + " under new claims")
    all_owners = Counter(o for os_ in owners.values() for o in os_)
    return {
        "flights": len(claims),
        "flight_claims": sum(claims.values()),
        "flights_with_two_owners": sum(1 for o in owners.values() if len(o) > 1),
        "claims_by_owner": dict(sorted(all_owners.items())),
        "step_starts": sum(len(t) for t in starts.values()),
        "step_successes": sum(succeeded.values()),
        "retried_attempts": sum(1 for (_, _, a) in starts if a > 1),
        "reruns_after_lost_lease": len(reruns),
        "reruns_after_lost_lease_shown": reruns[:shown],
        "double_executions": doubles[:shown],
        "no_double_execution": not doubles,
    }
