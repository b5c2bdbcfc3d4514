"""Spans leave the process with the exceptions they recorded masked."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from jetbridge.common.span_redaction import RedactingSpanExporter

LEAK = "CREATE USER 'x'@'%' IDENTIFIED BY 'hunter2'"


def test_recorded_exceptions_and_status_are_masked_and_clean_spans_pass_as_they_are() -> None:
    kept = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(RedactingSpanExporter(kept)))
    tracer = provider.get_tracer("test")
    try:
        with tracer.start_as_current_span("fence") as span:
            span.set_status(Status(StatusCode.ERROR, f"FENCING_FAILED: {LEAK}"))
            raise RuntimeError(LEAK)  # recorded by the span, with its traceback
    except RuntimeError:
        pass
    with tracer.start_as_current_span("clean"):
        pass
    failed, clean = kept.get_finished_spans()
    (event,) = failed.events
    assert event.name == "exception"
    for text in (event.attributes["exception.message"], event.attributes["exception.stacktrace"]):
        assert "hunter2" not in text and "IDENTIFIED BY '***'" in text
    # the span's own status (set from the exception as it left) is masked too
    description = failed.status.description or ""
    assert "hunter2" not in description and "IDENTIFIED BY '***'" in description
    assert failed.status.status_code is StatusCode.ERROR and failed.name == "fence"
    assert clean.name == "clean" and not clean.events


def test_a_span_whose_exception_holds_no_credential_is_exported_as_it_is() -> None:
    from opentelemetry.sdk.trace import ReadableSpan  # noqa: PLC0415

    from jetbridge.common.span_redaction import redacted  # noqa: PLC0415

    provider = TracerProvider()
    kept = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(kept))
    try:
        with provider.get_tracer("test").start_as_current_span("wait"):
            raise TimeoutError("namespace airflow-d still terminating")
    except TimeoutError:
        pass
    (span,) = kept.get_finished_spans()
    assert isinstance(span, ReadableSpan) and span.events
    assert redacted(span) is span
