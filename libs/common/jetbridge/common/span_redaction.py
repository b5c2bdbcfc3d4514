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
    if not any(isinstance(attributes.get(k), str) for k in _TEXT_ATTRIBUTES):
        return event
    masked = {
        k: redact(v) if k in _TEXT_ATTRIBUTES and isinstance(v, str) else v
        for k, v in attributes.items()
    }
    return Event(event.name, masked, event.timestamp)


def redacted(span: ReadableSpan) -> ReadableSpan:
    """``span``, or a copy whose exception texts and status description are masked."""
    events = tuple(_event(e) for e in span.events)
    description = span.status.description
    clean = redact(description) if description else description
    if clean == description and all(a is b for a, b in zip(events, span.events, strict=True)):
        return span
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=span.attributes,
        events=events,
        links=span.links,
        kind=span.kind,
        status=Status(span.status.status_code, clean),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )
