"""OpenTelemetry tracing set-up; trace context crosses Kafka in record headers.

Producers inject W3C ``traceparent`` into the envelope and the headers
(``kafka.headers.event_headers``); consumers continue the trace with
``consumer_span(record)`` or ``span_from(envelope.trace_context)``. gRPC calls carry
it in metadata (``jetbridge.common.grpc_tracing``), Flightdeck rows in a column.

Where spans go is the process's choice, read once at start by :func:`setup_tracing`:
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``..._TRACES_ENDPOINT``) exports over OTLP/HTTP;
``JETBRIDGE_TRACE_FILE`` appends one finished span per line as JSON; neither: spans
are still created (ids in logs, context propagated) but exported nowhere.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

from jetbridge.common.kafka.deadletter import ConsumedRecord
from jetbridge.common.kafka.headers import trace_carrier
from jetbridge.common.redaction import redact
from jetbridge.common.span_redaction import RedactingSpanExporter

TRACER = "jetbridge"
TRACE_FILE_ENV = "JETBRIDGE_TRACE_FILE"
_OTLP_ENVS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def configure_tracing(
    service: str,
    exporter: SpanExporter | None = None,
    attributes: Mapping[str, str] | None = None,
) -> TracerProvider:
    resource = Resource.create({"service.name": service, **(attributes or {})})
    provider = TracerProvider(resource=resource)
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider


def setup_tracing(
    service: str,
    env: Mapping[str, str] | None = None,
    *,
    attributes: Mapping[str, str] | None = None,
) -> TracerProvider:
    """The process's tracer provider, exporting where the environment says.

    Call ``shutdown()`` on the result when the process stops: it flushes the spans
    still batched for OTLP.
    """
    env = os.environ if env is None else env
    provider = configure_tracing(service, attributes=attributes)
    if endpoint := otlp_traces_endpoint(env):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter,  # only imported when asked for: it pulls in requests
        )

        otlp = RedactingSpanExporter(OTLPSpanExporter(endpoint=endpoint))
        provider.add_span_processor(BatchSpanProcessor(otlp))
    if path := env.get(TRACE_FILE_ENV):
        # Simple (synchronous) on purpose: a span is on disk when it ends, nothing is
        # lost on SIGKILL, and the volume (a few spans per flight step) is small.
        lines = RedactingSpanExporter(JsonLinesSpanExporter(Path(path)))
        provider.add_span_processor(SimpleSpanProcessor(lines))
    return provider


def otlp_traces_endpoint(env: Mapping[str, str]) -> str | None:
    """The OTLP/HTTP traces URL, as the OpenTelemetry spec derives it from the two
    standard variables (the signal-specific one is used as is)."""
    if traces := env.get(_OTLP_ENVS[0]):
        return traces
    if base := env.get(_OTLP_ENVS[1]):
        return base.rstrip("/") + "/v1/traces"
    return None


_TRACERS: dict[int, tuple[trace.TracerProvider, trace.Tracer]] = {}  # by provider


def tracer() -> trace.Tracer:
    """Jetbridge's tracer from the process's provider.

    ``trace.get_tracer`` builds a new Tracer on every call (an instrumentation scope and
    a deprecation shim; 52 us timed by hand, docs/benchmarks.md); this keeps one per
    provider, so a provider installed later (or by a test) is picked up."""
    provider = trace.get_tracer_provider()
    cached = _TRACERS.get(id(provider))
    if cached is None or cached[0] is not provider:
        cached = _TRACERS[id(provider)] = (provider, provider.get_tracer(TRACER))
    return cached[1]


class JsonLinesSpanExporter(SpanExporter):
    """Appends each finished span as one JSON object per line (``span_to_dict``)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()  # BatchSpanProcessor exports from its own thread
        # A process has one resource: its JSON tail is made once, not per span.
        self._tails: dict[int, tuple[Resource, str]] = {}

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(self._line(s) for s in spans)
        with self._lock:
            if self._file.closed:
                return SpanExportResult.FAILURE
            self._file.write(lines)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            self._file.close()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        with self._lock:
            if not self._file.closed:
                self._file.flush()
        return True

    def _line(self, span: ReadableSpan) -> str:
        """``span_to_dict(span)`` as one JSON line, the resource's part cached."""
        resource = span.resource
        cached = self._tails.get(id(resource))
        if cached is None or cached[0] is not resource:
            # ``,"service":...,"resource":{...}}``: the end of every line of this resource
            tail = "," + json.dumps(_resource_fields(resource), separators=(",", ":"))[1:]
            cached = self._tails[id(resource)] = (resource, tail)
        head = json.dumps(_span_fields(span), separators=(",", ":"))
        return head[:-1] + cached[1] + "\n"


def span_to_dict(span: ReadableSpan) -> dict[str, Any]:
    """A flat, stable JSON shape: hex ids as in W3C traceparent, times in ns since epoch."""
    return _span_fields(span) | _resource_fields(span.resource)


def _resource_fields(resource: Resource) -> dict[str, Any]:
    return {
        "service": str(resource.attributes.get("service.name", "")),
        "resource": {k: str(v) for k, v in resource.attributes.items()},
    }


def _span_fields(span: ReadableSpan) -> dict[str, Any]:
    context = span.get_span_context()
    assert context is not None
    return {
        "name": span.name,
        "trace_id": f"{context.trace_id:032x}",
        "span_id": f"{context.span_id:016x}",
        "parent_span_id": f"{span.parent.span_id:016x}" if span.parent else None,
        "kind": span.kind.name,
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        **({"status_description": span.status.description} if span.status.description else {}),
        "attributes": dict(span.attributes or {}),
        "links": [
            {"trace_id": f"{link.context.trace_id:032x}", "span_id": f"{link.context.span_id:016x}"}
            for link in span.links
        ],
    }


def current_trace_context() -> dict[str, str]:
    """The active span's W3C context, to store in an envelope or outbox row."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def context_of(carrier: Mapping[str, str] | None) -> Context:
    """The remote parent a carrier names (an empty context when it names none)."""
    return propagate.extract(dict(carrier or {}))


def link_to(carrier: Mapping[str, str] | None) -> list[Link]:
    """A link to the span a carrier names, for spans caused by it but not its children."""
    parent = trace.get_current_span(context_of(carrier)).get_span_context()
    return [Link(parent)] if parent.is_valid else []


@contextmanager
def span_from(
    carrier: Mapping[str, str] | None,
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[Span]:
    """The current span for a piece of work, child of the span ``carrier`` names, or
    of the current span when the carrier is empty (an empty extract is a new root)."""
    parent = context_of(carrier) if carrier else None
    with tracer().start_as_current_span(
        name, context=parent, kind=kind, attributes=dict(attributes or {})
    ) as span:
        yield span


def mark_failed(span: Span, description: str) -> None:
    span.set_status(Status(StatusCode.ERROR, redact(description)[:500]))


@contextmanager
def consumer_span(record: ConsumedRecord, name: str) -> Iterator[Span]:
    """A span for handling ``record``, child of the span that produced it."""
    with span_from(
        trace_carrier(record.headers),
        name,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": record.topic,
            "messaging.kafka.destination.partition": record.partition,
            "messaging.kafka.message.offset": record.offset,
        },
    ) as span:
        yield span
