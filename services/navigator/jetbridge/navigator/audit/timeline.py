"""`audit timeline REQUEST_ID`: the whole story of one failover, from the ledger alone.

Two views of the same records: the chronological log (every event of the request, its
missions and flights, the command that asked for it, and the fencing of its
Deployments, ordered by when they occurred, ties by ledger position) and the folded
state (the request, its eligibility verdicts and warnings, every mission with its
fencing epoch and every flight step with times, durations and errors), built with the
projections' own row code so it reads exactly as the console does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from jetbridge.navigator.audit.records import AuditEvent
from jetbridge.navigator.audit.replay import Replay, _named, columns

_IDS = ("request_id", "mission_id", "flight_id")


def related_ids(events: Sequence[AuditEvent], request_id: str) -> set[str]:
    """The request, its missions and its flights (found from their creation events)."""
    ids = {request_id}
    for e in events:
        if e.payload.get("request_id") == request_id:
            ids.add(str(e.envelope["aggregate_id"]))
            for key in ("source_flight_id", "destination_flight_id", "flight_id"):
                if isinstance(e.payload.get(key), str):
                    ids.add(e.payload[key])
    return ids


def entries(events: Sequence[AuditEvent], request_id: str) -> list[dict[str, Any]]:
    ids = related_ids(events, request_id)
    mine = [
        e
        for e in events
        if e.envelope["aggregate_id"] in ids
        or e.envelope["correlation_id"] == request_id
        or any(e.payload.get(k) in ids for k in _IDS)
    ]
    mine.sort(key=lambda e: (e.occurred_at, e.recorded_at_ms, e.partition, e.offset))
    return [
        {
            "occurred_at": e.occurred_at,
            "event_type": e.event_type,
            "aggregate_type": e.envelope["aggregate_type"],
            "aggregate_id": e.envelope["aggregate_id"],
            "actor": e.envelope.get("actor"),
            "producer": e.envelope["producer"],
            "event_id": e.envelope["event_id"],
            "partition": e.partition,
            "offset": e.offset,
            "payload": e.payload,
        }
        for e in mine
    ]


def build(events: Sequence[AuditEvent], state: Replay, request_id: str) -> dict[str, Any] | None:
    """The timeline document; None when the ledger never heard of the request."""
    log = entries(events, request_id)
    requests = [r for r in state.tables["failover_requests"] if r[0] == request_id]
    if not log and not requests:
        return None
    request = _named("failover_requests", requests[0]) if requests else None
    for name in ("ineligible", "warnings", "rejections", "failed_missions", "deployment_ids"):
        if request is not None and isinstance(request.get(name), str):
            request[name] = json.loads(request[name])
    steps: dict[str, list[dict[str, Any]]] = {}
    named = columns("flight_steps")  # by name: a column added moves the others
    started_at, ended_at = named.index("started_at"), named.index("ended_at")
    for row in state.tables["flight_steps"]:
        step = _named("flight_steps", row)
        started, ended = row[started_at], row[ended_at]
        step["duration_ms"] = None if started is None or ended is None else ended - started
        steps.setdefault(row[0], []).append(step)
    flights: dict[str, list[dict[str, Any]]] = {}
    for row in state.tables["flights"]:
        if row[2] == request_id:
            flight = _named("flights", row)
            flight["steps"] = sorted(steps.get(row[0], []), key=lambda s: s["position"])
            flights.setdefault(row[1], []).append(flight)
    missions = []
    for row in state.tables["missions"]:
        if row[1] == request_id:
            mission = _named("missions", row)
            mission["flights"] = sorted(flights.get(row[0], []), key=lambda f: f["kind"])
            missions.append(mission)
    errors = [
        {k: e["payload"].get(k) for k in ("reason_code", "reason", "error_code", "error")}
        | {"event_type": e["event_type"], "aggregate_id": e["aggregate_id"], "at": e["occurred_at"]}
        for e in log
        if any(e["payload"].get(k) for k in ("error_code", "reason_code"))
    ]
    actors = sorted({a for e in log if (a := e["actor"])})
    return {
        "request_id": request_id,
        "actors": actors,
        "request": request,
        "missions": sorted(missions, key=lambda m: m["deployment_id"]),
        "errors": errors,
        "events": log,
    }


def render(doc: dict[str, Any]) -> str:
    """The timeline as text for a terminal."""
    out: list[str] = [f"failover {doc['request_id']}  actors: {', '.join(doc['actors']) or '-'}"]
    r = doc["request"]
    if r is not None:
        out.append(
            f"  {r['status']}  {r['source_cluster_id']} -> {r['destination_cluster_id']}"
            f"  mode {r['mode']}  requested by {r['requested_by']} at {r['requested_at']}"
            f"  started {r['started_at']}  ended {r['ended_at']}  ({_ms(r['duration_ms'])})"
        )
        for title, key in (
            ("ineligible", "ineligible"),
            ("warning", "warnings"),
            ("rejected", "rejections"),
        ):
            for f in r[key]:
                subject = f.get("deployment_id") or f.get("subject") or ""
                out.append(f"  {title}: {f['code']} {subject}: {f['message']}")
    for m in doc["missions"]:
        out.append(
            f"  mission {m['mission_id']} {m['deployment_id']} {m['status']}"
            f" epoch {m['fencing_epoch']} ({_ms(m['duration_ms'])})"
            + (f" {m['reason_code']}: {m['reason']}" if m["reason_code"] else "")
        )
        for f in m["flights"]:
            out.append(
                f"    {f['kind'].lower()} flight {f['flight_id']} on {f['cluster_id']}"
                f" {f['status']} epoch {f['fencing_epoch']}"
            )
            for s in f["steps"]:
                error = f"  {s['error_code']}: {s['error']}" if s["error_code"] else ""
                out.append(
                    f"      {s['step']:<24} {s['status']:<10} {s['failures']} failed"
                    f"  {s['started_at'] or '-'} .. {s['ended_at'] or '-'}"
                    f"  {_ms(s['duration_ms'])}{error}"
                )
    out.append("  events:")
    for e in doc["events"]:
        actor = f" by {e['actor']}" if e["actor"] else ""
        out.append(f"    {e['occurred_at']}  {e['event_type']:<28} {e['aggregate_id']}{actor}")
    return "\n".join(out)


def _ms(value: int | None) -> str:
    return "-" if value is None else f"{value / 1000:.3f}s"
