"""Typed errors of the event codec: a consumer routes them to the dead-letter topic."""

from __future__ import annotations


class EventCodecError(Exception):
    """Base of every error that makes a record unusable. ``reason`` is a stable code."""

    reason = "UNDECODABLE"


class MalformedRecord(EventCodecError):
    """The bytes are not a single-object-encoded Avro record we can read."""

    reason = "MALFORMED_RECORD"


class UnknownSchemaFingerprint(EventCodecError):
    """The header names a writer schema that no stored schema version has."""

    reason = "UNKNOWN_SCHEMA_FINGERPRINT"

    def __init__(self, fingerprint: bytes) -> None:
        super().__init__(
            f"no stored schema has fingerprint {fingerprint.hex()}: "
            "the writer used a schema version this service does not know"
        )
        self.fingerprint = fingerprint


class UnknownEventType(EventCodecError):
    """An event type with no schema file under schemas/avro/events/."""

    reason = "UNKNOWN_EVENT_TYPE"


class InvalidEvent(EventCodecError):
    """A payload that does not fit its schema (caught before it is ever published)."""

    reason = "INVALID_EVENT"
