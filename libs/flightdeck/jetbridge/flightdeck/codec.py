"""Row <-> value conversions shared by the adapters (driver-agnostic)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from .models import (
    Admitted,
    Claim,
    Flight,
    FlightState,
    NewFlight,
    OutboxEvent,
    Side,
    StoredOutboxEvent,
    step_attempts_from_json,
    step_results_from_json,
)


class Row(Protocol):
    """Both asyncpg.Record and a DictCursor dict: read by column name."""

    def __getitem__(self, key: str, /) -> Any: ...


_DUMPS = json.JSONEncoder(separators=(",", ":")).encode


def dumps(value: Any) -> str:
    return _DUMPS(value)


def loads(value: Any) -> Any:
    """JSON columns come back as text (MySQL) or already decoded (asyncpg codec)."""
    if isinstance(value, str | bytes | bytearray):
        return json.loads(value)
    return value


def encode_headers(headers: Sequence[tuple[str, bytes]]) -> str:
    """Kafka headers are (str, bytes) pairs; JSON holds the bytes as base64."""
    return dumps([[name, base64.b64encode(value).decode("ascii")] for name, value in headers])


def decode_headers(raw: Any) -> list[tuple[str, bytes]]:
    return [(name, base64.b64decode(value)) for name, value in loads(raw) or []]


def utc(value: datetime | None) -> datetime | None:
    """MySQL DATETIME is naive (we store UTC); PostgreSQL timestamptz is aware."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def flight_from_row(row: Row) -> Flight:
    created = utc(row["created_at"])
    updated = utc(row["updated_at"])
    assert created is not None and updated is not None
    return Flight(
        flight_id=row["flight_id"],
        mission_id=row["mission_id"],
        request_id=row["request_id"],
        deployment_id=row["deployment_id"],
        side=Side(row["side"]),
        mode=row["mode"],
        plan=loads(row["plan"]),
        fencing_epoch=int(row["fencing_epoch"]),
        state=FlightState(row["state"]),
        current_step=int(row["current_step"]),
        step_results=step_results_from_json(loads(row["step_results"])),
        error=row["error"],
        lease_owner=row["lease_owner"],
        lease_expires_at=utc(row["lease_expires_at"]),
        attempt=int(row["attempt"]),
        fencing_token=int(row["fencing_token"]),
        cancel_requested=bool(row["cancel_requested"]),
        created_at=created,
        updated_at=updated,
        finished_at=utc(row["finished_at"]),
        cleared_through=row["cleared_through"],
        not_before=utc(row["not_before"]),
        step_attempts=step_attempts_from_json(loads(row["step_attempts"])),
        traceparent=_optional(row, "traceparent"),
    )


def _optional(row: Row, column: str) -> Any:
    """A column a newer migration added (None if the query predates it)."""
    try:
        return row[column]
    except (KeyError, IndexError):
        return None


def refreshed_claim(claim: Claim, row: Row) -> Claim:
    """The claim after one of its writes: lease, cancel flag and clearance as stored now.

    The row carries ``lease_expires_at``, ``cancel_requested``, ``current_step``,
    ``cleared_through``, ``not_before`` and ``step_attempts`` (what a claimer needs to
    decide its next step without another read).
    """
    flight = replace(
        claim.flight,
        current_step=int(row["current_step"]),
        cleared_through=row["cleared_through"],
        not_before=utc(row["not_before"]),
        step_attempts=step_attempts_from_json(loads(row["step_attempts"])),
        cancel_requested=bool(row["cancel_requested"]),
    )
    expires = utc(row["lease_expires_at"])
    return replace(
        claim,
        flight=flight,
        lease_expires_at=expires if expires is not None else claim.lease_expires_at,
        cancel_requested=bool(row["cancel_requested"]),
    )


def claim_from_flight(flight: Flight) -> Claim:
    assert flight.lease_owner is not None and flight.lease_expires_at is not None
    return Claim(
        flight=flight,
        owner=flight.lease_owner,
        fencing_token=flight.fencing_token,
        attempt=flight.attempt,
        lease_expires_at=flight.lease_expires_at,
        cancel_requested=flight.cancel_requested,
    )


def outbox_from_row(row: Row) -> StoredOutboxEvent:
    created = utc(row["created_at"])
    assert created is not None
    event_id = row["event_id"]
    return StoredOutboxEvent(
        seq=int(row["seq"]),
        event_id=event_id if isinstance(event_id, uuid.UUID) else uuid.UUID(str(event_id)),
        flight_id=row["flight_id"],
        topic=row["topic"],
        key=bytes(row["key"]) if row["key"] is not None else None,
        payload=bytes(row["payload"]),
        headers=decode_headers(row["headers"]),
        created_at=created,
        published_at=utc(row["published_at"]),
    )


def event_columns(
    events: Sequence[tuple[str, OutboxEvent]],
) -> tuple[list[Any], list[str], list[str], list[bytes | None], list[bytes], list[str]]:
    """Column arrays (event_id, flight_id, topic, key, payload, headers) for batch inserts."""
    return (
        [e.event_id for _, e in events],
        [fid for fid, _ in events],
        [e.topic for _, e in events],
        [e.key for _, e in events],
        [e.payload for _, e in events],
        [encode_headers(e.headers) for _, e in events],
    )


def admitted_in_order(
    flights: Sequence[NewFlight], stored: Mapping[str, tuple[Flight, bool]]
) -> list[Admitted]:
    """``admit``'s answer: one per flight asked, in order; an id asked twice was
    created at most once, by its first occurrence."""
    seen: set[str] = set()
    admitted = []
    for f in flights:
        flight, created = stored[f.flight_id]
        admitted.append(Admitted(flight, created and f.flight_id not in seen))
        seen.add(f.flight_id)
    return admitted


def in_order(flight_ids: Sequence[str], rows: Sequence[Row]) -> list[Flight | None]:
    """``get_many``'s answer: the flight of each id asked, in order (None: unknown)."""
    found = {row["flight_id"]: flight_from_row(row) for row in rows}
    return [found.get(flight_id) for flight_id in flight_ids]
