"""OpenTelemetry tracing set-up; trace context crosses Kafka in record headers.

Producers inject W3C ``traceparent`` into the envelope and the headers
(``kafka.headers.event_headers``); consumers continue the trace with
``consumer_span(record)``. Exporters are the caller's choice: the console exporter
for local debugging, an in-memory one in tests; none by default (no network here).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Span, SpanKind

from jetbridge.common.kafka.deadletter import ConsumedRecord
from jetbridge.common.kafka.headers import trace_carrier


def configure_tracing(service: str, exporter: SpanExporter | None = None) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider


def current_trace_context() -> dict[str, str]:
    """The active span's W3C context, to store in an envelope or outbox row."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextmanager
def consumer_span(record: ConsumedRecord, name: str) -> Iterator[Span]:
    """A span for handling ``record``, child of the span that produced it."""
    context = propagate.extract(trace_carrier(record.headers))
    tracer = trace.get_tracer("jetbridge")
    with tracer.start_as_current_span(
        name,
        context=context,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": record.topic,
            "messaging.kafka.destination.partition": record.partition,
            "messaging.kafka.message.offset": record.offset,
        },
    ) as span:
        yield span
