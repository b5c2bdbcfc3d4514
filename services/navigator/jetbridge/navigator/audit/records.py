"""Ledger records as plain, JSON-ready audit events (envelope + payload + position).

Timeline and export show auditors what the ledger says, so they decode with the general
codec (every stored schema version read with the newest) and keep every payload field,
not only the ones the domain folds. Times become ISO 8601 UTC strings with milliseconds.
``recorded_at`` is the ledger record's timestamp: when the Navigator appended it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jetbridge.common.events import EventCodec
from jetbridge.navigator.audit.ledger import RawRecord


@dataclass(frozen=True)
class AuditEvent:
    partition: int
    offset: int
    recorded_at_ms: int
    envelope: dict[str, Any]
    payload: dict[str, Any]

    @property
    def event_type(self) -> str:
        return str(self.envelope["event_type"])

    @property
    def occurred_at(self) -> str:
        return str(self.envelope["occurred_at"])

    def as_json(self) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "offset": self.offset,
            "recorded_at": iso(self.recorded_at_ms),
            **self.envelope,
            "payload": self.payload,
        }


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def plain(value: Any) -> Any:
    """Datetimes to ISO strings, recursively; everything else as JSON already knows it."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds")
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def decode_all(
    raws: Iterable[RawRecord], codec: EventCodec | None = None
) -> Iterator[AuditEvent | RawRecord]:
    """Each record decoded; a record no schema reads is passed through as it is."""
    codec = codec or EventCodec()
    for raw in raws:
        try:
            record = codec.decode(raw.ledger.value)
        except Exception:  # forged garbage is an audit finding, not a crash
            yield raw
            continue
        envelope = plain(record.envelope.as_avro())
        yield AuditEvent(
            raw.ledger.partition,
            raw.ledger.offset,
            raw.timestamp_ms,
            envelope,
            plain(dict(record.payload)),
        )
