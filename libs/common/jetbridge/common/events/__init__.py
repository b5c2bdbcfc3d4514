"""Events: the envelope, the schema registry (files, no server) and the Avro codec."""

from jetbridge.common.events.codec import EventCodec
from jetbridge.common.events.envelope import Envelope, EventRecord, new_event
from jetbridge.common.events.errors import (
    EventCodecError,
    InvalidEvent,
    MalformedRecord,
    UnknownEventType,
    UnknownSchemaFingerprint,
)
from jetbridge.common.events.registry import SchemaRegistry, SchemaVersion, default_registry

__all__ = [
    "Envelope",
    "EventCodec",
    "EventCodecError",
    "EventRecord",
    "InvalidEvent",
    "MalformedRecord",
    "SchemaRegistry",
    "SchemaVersion",
    "UnknownEventType",
    "UnknownSchemaFingerprint",
    "default_registry",
    "new_event",
]
