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
from collections.abc import Callable, Iterable
from typing import Any

from fastavro import parse_schema, schemaless_reader

from jetbridge.common.events import SchemaRegistry
from jetbridge.common.events.codec import HEADER_LENGTH, MAGIC
from jetbridge.common.events.compiled_reader import compile_reader, without_logical_types
from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.deployment_eligibility import held_before_failover
from jetbridge.navigator.domain.errors import DomainError
from jetbridge.navigator.domain.events.catalogue import BY_NAME
from jetbridge.navigator.domain.fleet import Fleet
from jetbridge.navigator.projections import rows
from jetbridge.navigator.projections.rows import Extras, Position, Row, findings

log = logging.getLogger(__name__)
_UNKNOWN: Any = object()
_FIELDS = {name: frozenset(f.name for f in dataclasses.fields(c)) for name, c in BY_NAME.items()}


class LedgerDecoder:
    """Avro single-object records to (event id, domain event); other types to None.

    Faster than the general codec for a replay: each writer schema is compiled once
    into a reader (``compiled_reader``) that keeps only ``event_id`` of the envelope and
    skips the rest; logical types are skipped; records that are not domain events
    (commands, refusals) are recognised by their fingerprint and never decoded. A
    record of an older schema version goes through fastavro, which resolves it to the
    newest version (defaults filled in).
    """

    def __init__(self, registry: SchemaRegistry) -> None:
        self._registry = registry
        self._builders: dict[bytes, Builder | None] = {}

    def decode(self, data: bytes) -> tuple[str, ev.DomainEvent] | None:
        if data[:2] != MAGIC:
            raise ValueError("not Avro single-object encoding")
        fingerprint = data[2:HEADER_LENGTH]
        build = self._builders.get(fingerprint, _UNKNOWN)
        if build is _UNKNOWN:
            build = self._builders[fingerprint] = self._builder(fingerprint)
        return None if build is None else build(data)

    def _builder(self, fingerprint: bytes) -> Builder | None:
        """How records of one writer schema become domain events (None: not one)."""
        writer = self._registry.by_fingerprint(fingerprint)
        if writer.event_type not in BY_NAME:
            return None
        cls, known = BY_NAME[writer.event_type], _FIELDS[writer.event_type]
        latest = self._registry.latest(writer.event_type)
        writer_schema: dict[str, Any] = parse_schema(without_logical_types(writer.parsed))  # type: ignore[assignment]
        if latest.version != writer.version:
            return _resolving(
                writer_schema, parse_schema(without_logical_types(latest.parsed)), cls, known
            )
        read = compile_reader(writer_schema, _event_id_of_envelope)
        payload = {f["name"] for f in writer_schema["fields"]} - {"envelope"}
        if payload != known:
            return lambda data: _built(read(data, HEADER_LENGTH)[0], cls, known)

        def exact(data: bytes) -> tuple[str, ev.DomainEvent]:
            # The record holds exactly the event's fields: the dataclass __init__ would
            # only copy them one by one (frozen: object.__setattr__ each), so the
            # decoded dict becomes the instance's __dict__ at once.
            datum = read(data, HEADER_LENGTH)[0]
            event_id = datum.pop("envelope")["event_id"]
            event = _new(cls)
            _set(event, "__dict__", datum)
            return event_id, event

        return exact


Builder = Callable[[bytes], tuple[str, ev.DomainEvent]]
_new, _set = object.__new__, object.__setattr__


def _built(datum: dict[str, Any], cls: Any, known: frozenset[str]) -> tuple[str, ev.DomainEvent]:
    event_id = datum.pop("envelope")["event_id"]
    return event_id, cls(**{k: v for k, v in datum.items() if k in known})


def _resolving(writer: Any, reader: Any, cls: Any, known: frozenset[str]) -> Builder:
    """An older version: fastavro resolves it to the newest (new fields get defaults)."""

    def build(data: bytes) -> tuple[str, ev.DomainEvent]:
        body = io.BytesIO(data)  # shares the bytes: no copy of the body
        body.seek(HEADER_LENGTH)
        datum = schemaless_reader(body, writer, reader)
        assert isinstance(datum, dict)
        return _built(datum, cls, known)

    return build


def _event_id_of_envelope(path: str) -> bool:
    """Of the envelope a fold needs only the event id (repeats are dropped by it)."""
    return not path.startswith("envelope.") or path == "envelope.event_id"


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
        aggregate_id = event.aggregate_id
        self.positions[(event.AGGREGATE, aggregate_id)] = at
        self._note(event, aggregate_id)
        return True

    def _note(self, event: ev.DomainEvent, aggregate_id: str) -> None:
        """Keep what the rows need beyond the aggregates; mark the rows it changes."""
        extra = _EXTRAS.get(type(event))
        if extra is not None:
            extra(self.extras, event)
        t, f = self._touched, self.fleet
        match event.AGGREGATE:
            case "FailoverRequest":
                t["failover_requests"].add(aggregate_id)
            case "Mission":
                t["missions"].add(aggregate_id)
                t["failover_requests"].add(f.missions[aggregate_id].request_id)
            case "Flight":
                t["flights"].add(aggregate_id)
                t["missions"].add(f.flights[aggregate_id].mission_id)
            case "Cluster":
                t["clusters"].add(aggregate_id)
            case "Deployment":
                t["deployments"].add(aggregate_id)
                if isinstance(event, ev.DeploymentCreated):  # the cluster row's taint list
                    t["clusters"].add(event.cluster_id)  # depends on it (held_before_failover)

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
            if (c := f.clusters.get(cid)) is None:  # a Deployment's cluster not known yet
                continue
            held = held_before_failover(c, f.deployments)
            out["clusters"].append(rows.cluster_row(c, held, x, self._at(c)))
        for did in t["deployments"]:
            d = f.deployments[did]
            out["deployments"].append(rows.deployment_row(d, self._at(d)))
        self._touched = {name: set() for name in rows.TABLES}
        return out

    def _at(self, aggregate: Any) -> Position:
        return self.positions[(aggregate.NAME, aggregate.id)]


def _requested(x: Extras, e: Any) -> None:
    x.ineligible[e.request_id] = findings(
        e.ineligible_reason_codes,
        e.ineligible_deployment_ids,
        e.ineligible_reason_messages,
        "deployment_id",
    )
    x.warnings[e.request_id] = findings(
        e.warning_codes, e.warning_subjects, e.warning_messages, "subject"
    )


def _rejected(x: Extras, e: Any) -> None:
    x.rejections[e.request_id] = findings(
        e.reason_codes, e.reason_subjects, e.reason_messages, "subject"
    )


def _flight_ended(x: Extras, e: Any) -> None:
    x.flight_ended_at[e.flight_id] = _ended(e)


# The events whose facts the rows show but the aggregates do not keep, by exact type
# (a dict lookup per event instead of a chain of isinstance checks).
_EXTRAS: dict[type[ev.DomainEvent], Callable[[Extras, Any], None]] = {
    ev.FailoverRequested: _requested,
    ev.FailoverRejected: _rejected,
    ev.FailoverStarted: lambda x, e: x.request_started_at.__setitem__(e.request_id, e.started_at),
    ev.FlightPlanned: lambda x, e: x.flight_planned_at.__setitem__(e.flight_id, e.planned_at),
    ev.FlightSucceeded: _flight_ended,
    ev.FlightFailed: _flight_ended,
    ev.FlightCancelled: _flight_ended,
    ev.FailoverEnabled: lambda x, e: x.failover_enabled_by.__setitem__(e.cluster_id, e.enabled_by),
}


def _ended(event: ev.FlightSucceeded | ev.FlightFailed | ev.FlightCancelled) -> int:
    if isinstance(event, ev.FlightSucceeded):
        return event.succeeded_at
    if isinstance(event, ev.FlightFailed):
        return event.failed_at
    return event.cancelled_at
