"""Avro single-object encoding of events: ``C3 01`` + 8-byte fingerprint + body.

The fingerprint names the writer schema, so a reader decodes any stored version and
resolves it to the newest one it knows (Avro schema resolution fills new defaults).
A record of the newest version (nearly every one) needs no resolution and is read by
a reader compiled from its schema (``compiled_reader``); older ones go through
fastavro. Events are written by a writer compiled from their schema that validates as
it writes (``compiled_writer``); fastavro explains a refusal.
"""

from __future__ import annotations

import io
import logging
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastavro import schemaless_reader, schemaless_writer
from fastavro.validation import validate

from jetbridge.common.events.compiled_reader import Reader, compile_reader
from jetbridge.common.events.compiled_writer import NotCompiled, Unfit, Writer, compile_writer
from jetbridge.common.events.envelope import Envelope, EventRecord
from jetbridge.common.events.errors import InvalidEvent, MalformedRecord
from jetbridge.common.events.registry import SchemaRegistry, SchemaVersion, default_registry

MAGIC = b"\xc3\x01"
HEADER_LENGTH = len(MAGIC) + 8


class EventCodec:
    """Encodes with the newest version of a type; decodes any stored version."""

    def __init__(self, registry: SchemaRegistry | None = None) -> None:
        self.registry = registry or default_registry()
        self._readers: dict[bytes, Reader] = {}  # newest versions' compiled readers
        self._writers: dict[bytes, Writer | None] = {}  # None: fastavro writes that one

    def schema_for(self, event: EventRecord) -> SchemaVersion:
        return self.registry.version(event.event_type, event.envelope.schema_version)

    def key_of(self, event: EventRecord) -> bytes:
        return event.envelope.aggregate_id.encode()

    def encode(self, event: EventRecord) -> bytes:
        schema = self.schema_for(event)
        datum: dict[str, Any] = {"envelope": event.envelope.as_avro(), **event.payload}
        try:
            write = self._writers[schema.fingerprint]
        except KeyError:
            write = self._writers[schema.fingerprint] = _writer_of(schema)
        if write is not None:
            try:
                return MAGIC + schema.fingerprint + write(datum)
            except Unfit:
                pass  # fastavro names the field (below), or writes what it accepts
        if not validate(datum, schema.parsed, raise_errors=False):
            raise InvalidEvent(_explain_invalid(datum, schema))
        if write is not None:  # never expected: the compiled writer refused a fit datum
            log.warning("%s.v%s: written by fastavro", schema.event_type, schema.version)
        buffer = io.BytesIO()
        buffer.write(MAGIC)
        buffer.write(schema.fingerprint)
        schemaless_writer(buffer, schema.parsed, datum)
        return buffer.getvalue()

    def decode(self, data: bytes) -> EventRecord:
        if len(data) < HEADER_LENGTH or data[:2] != MAGIC:
            raise MalformedRecord("not Avro single-object encoding (missing C3 01 header)")
        fingerprint = data[2:HEADER_LENGTH]
        read = self._readers.get(fingerprint)
        if read is None:
            writer = self.registry.by_fingerprint(fingerprint)
            reader = self.registry.latest(writer.event_type)
            if reader is not writer:
                return self._resolved(data, writer, reader)
            read = self._readers[fingerprint] = compile_reader(writer.parsed)
        try:
            datum, _ = read(data, HEADER_LENGTH)
            envelope = datum.pop("envelope")
            # The compiled reader leaves the envelope's logical types as written; made
            # here what fastavro makes of them: the id in canonical form (refused if
            # it is not a UUID), the time a UTC datetime.
            if not _CANONICAL_UUID(envelope["event_id"]):
                envelope["event_id"] = str(uuid.UUID(envelope["event_id"]))
            envelope["occurred_at"] = _EPOCH + timedelta(milliseconds=envelope["occurred_at"])
        except (ValueError, OverflowError) as error:  # named: too short, not a UUID, ...
            writer = self.registry.by_fingerprint(fingerprint)
            raise MalformedRecord(
                f"{writer.event_type}.v{writer.version} body does not decode: {error}"
            ) from error
        return EventRecord(envelope=Envelope.from_avro(envelope), payload=datum)

    def _resolved(self, data: bytes, writer: SchemaVersion, reader: SchemaVersion) -> EventRecord:
        """An older version, resolved by fastavro to the newest (new fields defaulted)."""
        try:
            datum = schemaless_reader(
                io.BytesIO(data[HEADER_LENGTH:]), writer.parsed, reader.parsed
            )
        except Exception as error:  # fastavro raises many types on truncated bodies
            raise MalformedRecord(
                f"{writer.event_type}.v{writer.version} body does not decode: {error!r}"
            ) from error
        if not isinstance(datum, dict):
            raise MalformedRecord("decoded body is not a record")
        envelope = Envelope.from_avro(datum.pop("envelope"))
        return EventRecord(envelope=envelope, payload=datum)


log = logging.getLogger(__name__)


def _writer_of(schema: SchemaVersion) -> Writer | None:
    try:
        return compile_writer(schema.parsed)
    except NotCompiled as why:
        log.info("%s.v%s is written by fastavro: %s", schema.event_type, schema.version, why)
        return None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # fastavro's timestamp-millis: epoch + delta
_CANONICAL_UUID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z"
).match


def _explain_invalid(datum: dict[str, Any], schema: SchemaVersion) -> str:
    """Name the first field that does not fit, so the caller sees what to fix."""
    try:
        validate(datum, schema.parsed, raise_errors=True)
    except Exception as error:
        return f"{schema.event_type}.v{schema.version}: {error}"
    return f"{schema.event_type}.v{schema.version}: payload does not fit the schema"
