"""Fold the ledger with the domain's aggregates; say which rows each batch changed.

The ledger (``jetbridge.failover.events``) holds each aggregate's events in the order
the Navigator folded them, keyed by aggregate id, so every aggregate lives on one
partition and folds the same whatever the interleaving of partitions. Folding with
``Fleet.apply`` (the Navigator's own code) means the read model can never disagree
with the Navigator's rules. A repeat of an event id (the outbox relay may publish a
batch twice) is dropped: the first occurrence wins, live and on rebuild alike.
"""

from __future__ import annotations

import dataclasses
import io
import logging
from collections.abc import Iterable
from typing import Any

from fastavro import parse_schema, schemaless_reader

from jetbridge.common.events import SchemaRegistry
from jetbridge.common.events.codec import HEADER_LENGTH, MAGIC
from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.errors import DomainError
from jetbridge.navigator.domain.events.catalogue import BY_NAME
from jetbridge.navigator.domain.fleet import Fleet
from jetbridge.navigator.projections import rows
from jetbridge.navigator.projections.rows import Extras, Position, Row, findings

log = logging.getLogger(__name__)
_UNKNOWN: Any = object()
_FIELDS = {name: frozenset(f.name for f in dataclasses.fields(c)) for name, c in BY_NAME.items()}


def _raw(schema: Any) -> Any:
    """The schema without logical types: ids stay strings, times stay epoch ms."""
    if isinstance(schema, dict):
        return {k: _raw(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [_raw(v) for v in schema]
    return schema


class LedgerDecoder:
    """Avro single-object records to (event id, domain event); other types to None.

    Faster than the general codec for a replay: parsed schemas are cached per
    fingerprint, logical types are skipped, and records that are not domain events
    (commands, refusals) are recognised by their fingerprint and never decoded.
    """

    def __init__(self, registry: SchemaRegistry) -> None:
        self._registry = registry
        self._readers: dict[bytes, tuple[str, Any, Any] | None] = {}

    def decode(self, data: bytes) -> tuple[str, ev.DomainEvent] | None:
        if data[:2] != MAGIC:
            raise ValueError("not Avro single-object encoding")
        fingerprint = data[2:HEADER_LENGTH]
        reader = self._readers.get(fingerprint, _UNKNOWN)
        if reader is _UNKNOWN:
            reader = self._readers[fingerprint] = self._reader(fingerprint)
        if reader is None:
            return None
        event_type, writer_schema, reader_schema = reader
        body = io.BytesIO(data)  # shares the bytes: no copy of the body
        body.seek(HEADER_LENGTH)
        datum = schemaless_reader(body, writer_schema, reader_schema)
        assert isinstance(datum, dict)
        event_id = datum.pop("envelope")["event_id"]
        cls = BY_NAME[event_type]
        if datum.keys() == _FIELDS[event_type]:
            # Every field present and nothing else: the dataclass __init__ would only
            # copy them one by one (frozen: object.__setattr__ each), so set them at once.
            event = object.__new__(cls)
            object.__setattr__(event, "__dict__", datum)
            return event_id, event
        known = _FIELDS[event_type]
        return event_id, cls(**{k: v for k, v in datum.items() if k in known})

    def _reader(self, fingerprint: bytes) -> tuple[str, Any, Any] | None:
        writer = self._registry.by_fingerprint(fingerprint)
        if writer.event_type not in BY_NAME:
            return None
        latest = self._registry.latest(writer.event_type)
        resolved = None if latest.version == writer.version else parse_schema(_raw(latest.parsed))
        return writer.event_type, parse_schema(_raw(writer.parsed)), resolved


class LedgerFold:
    """The aggregates of the whole ledger, and which of them each batch touched."""

    def __init__(self) -> None:
        self.fleet = Fleet()
        self.extras = Extras()
        self.positions: dict[tuple[str, str], Position] = {}
        self.seen: set[str] = set()
        self.applied = self.repeats = self.refused = 0
        self._touched: dict[str, set[str]] = {name: set() for name in rows.TABLES}

    def fold(self, event_id: str, event: ev.DomainEvent, at: Position) -> bool:
        """Apply one ledger event; False for a repeat or an event the domain refuses."""
        if event_id in self.seen:
            self.repeats += 1
            return False
        self.seen.add(event_id)
        try:
            self.fleet.apply(event)
        except DomainError as error:  # never expected from the ledger: counted, logged
            self.refused += 1
            log.error("ledger event %s %s refused: %s", event.event_type(), event_id, error)
            return False
        self.applied += 1
        self.positions[(event.AGGREGATE, event.aggregate_id)] = at
        self._note(event)
        return True

    def _note(self, event: ev.DomainEvent) -> None:
        t, x = self._touched, self.extras
        match event:
            case ev.FailoverRequested():
                x.ineligible[event.request_id] = findings(
                    event.ineligible_reason_codes,
                    event.ineligible_deployment_ids,
                    event.ineligible_reason_messages,
                    "deployment_id",
                )
                x.warnings[event.request_id] = findings(
                    event.warning_codes, event.warning_subjects, event.warning_messages, "subject"
                )
            case ev.FailoverRejected():
                x.rejections[event.request_id] = findings(
                    event.reason_codes, event.reason_subjects, event.reason_messages, "subject"
                )
            case ev.FailoverStarted():
                x.request_started_at[event.request_id] = event.started_at
            case ev.FlightPlanned():
                x.flight_planned_at[event.flight_id] = event.planned_at
            case ev.FlightSucceeded() | ev.FlightFailed() | ev.FlightCancelled():
                x.flight_ended_at[event.flight_id] = _ended(event)
            case ev.FailoverEnabled():
                x.failover_enabled_by[event.cluster_id] = event.enabled_by
        match event:
            case ev.RequestEvent():
                t["failover_requests"].add(event.request_id)
            case ev.MissionEvent():
                t["missions"].add(event.mission_id)
                t["failover_requests"].add(self.fleet.missions[event.mission_id].request_id)
            case ev.FlightEvent():
                t["flights"].add(event.flight_id)
                t["missions"].add(self.fleet.flights[event.flight_id].mission_id)
            case ev.ClusterEvent():
                t["clusters"].add(event.cluster_id)
            case ev.DeploymentEvent():
                t["deployments"].add(event.deployment_id)

    def fold_all(self, items: Iterable[tuple[str, ev.DomainEvent, Position]]) -> None:
        for event_id, event, at in items:
            self.fold(event_id, event, at)

    def take_rows(self) -> dict[str, list[Row]]:
        """Rows of everything touched since the last call (aggregates not yet known skip)."""
        f, x, t = self.fleet, self.extras, self._touched
        out: dict[str, list[Row]] = {name: [] for name in rows.TABLES}
        for rid in t["failover_requests"]:
            if (r := f.requests.get(rid)) is not None:
                ms = [f.missions[m] for m in r.mission_ids if m in f.missions]
                out["failover_requests"].append(rows.request_row(r, ms, x, self._at(r)))
        for mid in t["missions"]:
            if (m := f.missions.get(mid)) is not None:
                ids = (m.source_flight_id, m.destination_flight_id)
                fs = [g for i in ids if (g := f.flights.get(i)) is not None]
                out["missions"].append(rows.mission_row(m, fs, self._at(m)))
        for fid in t["flights"]:
            g = f.flights[fid]
            out["flights"].append(rows.flight_row(g, x, self._at(g)))
            out["flight_steps"] += rows.step_rows(g, self._at(g))
        for cid in t["clusters"]:
            c = f.clusters[cid]
            out["clusters"].append(rows.cluster_row(c, x, self._at(c)))
        for did in t["deployments"]:
            d = f.deployments[did]
            out["deployments"].append(rows.deployment_row(d, self._at(d)))
        self._touched = {name: set() for name in rows.TABLES}
        return out

    def _at(self, aggregate: Any) -> Position:
        return self.positions[(aggregate.NAME, aggregate.id)]


def _ended(event: ev.FlightSucceeded | ev.FlightFailed | ev.FlightCancelled) -> int:
    if isinstance(event, ev.FlightSucceeded):
        return event.succeeded_at
    if isinstance(event, ev.FlightFailed):
        return event.failed_at
    return event.cancelled_at
