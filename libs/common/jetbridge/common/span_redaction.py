"""Spans leave the process with credential-shaped text masked.

A span records the exceptions raised inside it (``exception.message`` and
``exception.stacktrace`` events, OpenTelemetry's default) and a failed span's status
says why. Those texts are other libraries' exceptions, as in the log lines, so every
exporter Jetbridge installs is wrapped in this one: each span is copied with those
texts passed through :func:`jetbridge.common.redaction.redact`; a span that has none
goes through untouched.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status

from jetbridge.common.redaction import redact

_TEXT_ATTRIBUTES = ("exception.message", "exception.stacktrace")


class RedactingSpanExporter(SpanExporter):
    def __init__(self, inner: SpanExporter) -> None:
        self._inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._inner.export([redacted(span) for span in spans])

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._inner.force_flush(timeout_millis)


def _event(event: Event) -> Event:
    attributes = event.attributes or {}
    masked = {
        k: redact(v) if k in _TEXT_ATTRIBUTES and isinstance(v, str) else v
        for k, v in attributes.items()
    }
    if masked == dict(attributes):
        return event  # the same object: the span goes through untouched
    return Event(event.name, masked, event.timestamp)


class _MaskedSpan(ReadableSpan):
    """A masked copy that still reports what the original dropped (OTLP sends it)."""

    def __init__(self, original: ReadableSpan, events: tuple[Event, ...], status: Status) -> None:
        super().__init__(
            name=original.name,
            context=original.context,
            parent=original.parent,
            resource=original.resource,
            attributes=original.attributes,
            events=events,
            links=original.links,
            kind=original.kind,
            status=status,
            start_time=original.start_time,
            end_time=original.end_time,
            instrumentation_scope=original.instrumentation_scope,
        )
        self._original = original

    @property
    def dropped_attributes(self) -> int:
        return self._original.dropped_attributes

    @property
    def dropped_events(self) -> int:
        return self._original.dropped_events

    @property
    def dropped_links(self) -> int:
        return self._original.dropped_links


def redacted(span: ReadableSpan) -> ReadableSpan:
    """``span``, or a copy whose exception texts and status description are masked."""
    events = tuple(_event(e) for e in span.events)
    description = span.status.description
    clean = redact(description) if description else description
    if clean == description and all(a is b for a, b in zip(events, span.events, strict=True)):
        return span
    return _MaskedSpan(span, events, Status(span.status.status_code, clean))
