"""Avro single-object encoding of events: ``C3 01`` + 8-byte fingerprint + body.

The fingerprint names the writer schema, so a reader decodes any stored version and
resolves it to the newest one it knows (Avro schema resolution fills new defaults).
"""

from __future__ import annotations

import io
from typing import Any

from fastavro import schemaless_reader, schemaless_writer
from fastavro.validation import validate

from jetbridge.common.events.envelope import Envelope, EventRecord
from jetbridge.common.events.errors import InvalidEvent, MalformedRecord
from jetbridge.common.events.registry import SchemaRegistry, SchemaVersion, default_registry

MAGIC = b"\xc3\x01"
HEADER_LENGTH = len(MAGIC) + 8


class EventCodec:
    """Encodes with the newest version of a type; decodes any stored version."""

    def __init__(self, registry: SchemaRegistry | None = None) -> None:
        self.registry = registry or default_registry()

    def schema_for(self, event: EventRecord) -> SchemaVersion:
        return self.registry.version(event.event_type, event.envelope.schema_version)

    def key_of(self, event: EventRecord) -> bytes:
        return event.envelope.aggregate_id.encode()

    def encode(self, event: EventRecord) -> bytes:
        schema = self.schema_for(event)
        datum: dict[str, Any] = {"envelope": event.envelope.as_avro(), **event.payload}
        if not validate(datum, schema.parsed, raise_errors=False):
            raise InvalidEvent(_explain_invalid(datum, schema))
        buffer = io.BytesIO()
        buffer.write(MAGIC)
        buffer.write(schema.fingerprint)
        schemaless_writer(buffer, schema.parsed, datum)
        return buffer.getvalue()

    def decode(self, data: bytes) -> EventRecord:
        if len(data) < HEADER_LENGTH or data[:2] != MAGIC:
            raise MalformedRecord("not Avro single-object encoding (missing C3 01 header)")
        writer = self.registry.by_fingerprint(data[2:HEADER_LENGTH])
        reader = self.registry.latest(writer.event_type)
        # Written with the newest version (nearly always): nothing to resolve, so no
        # reader schema to resolve against (a Navigator's recovery was 5-11% faster:
        # docs/benchmarks.md, "A Navigator's start").
        resolve_to = None if reader is writer else reader.parsed
        try:
            datum = schemaless_reader(io.BytesIO(data[HEADER_LENGTH:]), writer.parsed, resolve_to)
        except Exception as error:  # fastavro raises many types on truncated bodies
            raise MalformedRecord(
                f"{writer.event_type}.v{writer.version} body does not decode: {error!r}"
            ) from error
        if not isinstance(datum, dict):
            raise MalformedRecord("decoded body is not a record")
        envelope = Envelope.from_avro(datum.pop("envelope"))
        return EventRecord(envelope=envelope, payload=datum)


def _explain_invalid(datum: dict[str, Any], schema: SchemaVersion) -> str:
    """Name the first field that does not fit, so the caller sees what to fix."""
    try:
        validate(datum, schema.parsed, raise_errors=True)
    except Exception as error:
        return f"{schema.event_type}.v{schema.version}: {error}"
    return f"{schema.event_type}.v{schema.version}: payload does not fit the schema"
