"""Kafka record headers: event identity and W3C trace context travel beside the value."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry import propagate

from jetbridge.common.events.envelope import EventRecord

Headers = list[tuple[str, bytes]]


def event_headers(event: EventRecord) -> Headers:
    """Headers that let tools route and trace a record without decoding it."""
    headers: Headers = [
        ("event_id", event.event_id.encode()),
        ("event_type", event.event_type.encode()),
        ("correlation_id", event.envelope.correlation_id.encode()),
    ]
    carrier: dict[str, str] = dict(event.envelope.trace_context)
    if not carrier:
        propagate.inject(carrier)
    headers.extend((name, value.encode()) for name, value in carrier.items())
    return headers


def header_value(headers: Sequence[tuple[str, bytes]] | None, name: str) -> str | None:
    for key, value in headers or ():
        if key == name:
            return value.decode(errors="replace")
    return None


def trace_carrier(headers: Sequence[tuple[str, bytes]] | None) -> dict[str, str]:
    """The W3C trace context of a record, ready for ``propagate.extract``."""
    return {
        key: value.decode(errors="replace")
        for key, value in headers or ()
        if key in ("traceparent", "tracestate")
    }


def unwanted(headers: Sequence[tuple[str, bytes]] | None, wanted: frozenset[str] | None) -> bool:
    """True when the record's ``event_type`` header names a type the reader ignores.

    Lets a reader skip a record without decoding it. A record without the header (a
    foreign or malformed one) is never skipped here: decoding it is what sends it to
    the dead letters.
    """
    if wanted is None:
        return False
    for key, value in headers or ():
        if key == "event_type":
            return value.decode(errors="replace") not in wanted
    return False
