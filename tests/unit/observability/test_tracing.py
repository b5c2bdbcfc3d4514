"""The pure parts of tracing: the span file's shape, the set-up from the environment,
and one trace per Mission in the Navigator's stamping (no process, no broker)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from jetbridge.common.events import EventRecord, new_event
from jetbridge.common.telemetry import (
    TRACE_FILE_ENV,
    JsonLinesSpanExporter,
    current_trace_context,
    mark_failed,
    setup_tracing,
    span_from,
    span_to_dict,
    tracer,
)
from jetbridge.navigator.adapters.tracing import MISSION_ROOT, MissionTracer


def _provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _record(event_type: str, **payload: object) -> EventRecord:
    return new_event(
        event_type,
        payload,
        aggregate_type="Mission",
        aggregate_id=str(payload.get("mission_id", "m")),
        producer="test",
        schema_version=1,
        correlation_id="req-1",
    )


def _traceparent(record: EventRecord) -> tuple[str, str]:
    _, trace_id, span_id, _ = record.envelope.trace_context["traceparent"].split("-")
    return trace_id, span_id


def test_the_span_file_has_one_finished_span_per_line(tmp_path: Path) -> None:
    path = tmp_path / "spans" / "svc.jsonl"
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(path)))
    tracer = provider.get_tracer("t")
    with (
        tracer.start_as_current_span("parent") as parent,
        tracer.start_as_current_span("child", attributes={"jetbridge.step.name": "DRAIN"}),
    ):
        mark_failed(parent, "lease lost")
    provider.shutdown()
    child, root = (json.loads(line) for line in path.read_text().splitlines())
    assert (root["status"], root["status_description"]) == ("ERROR", "lease lost")
    assert child["status"] == "UNSET" and "status_description" not in child
    assert (child["name"], root["name"]) == ("child", "parent")
    assert child["trace_id"] == root["trace_id"] == f"{parent.get_span_context().trace_id:032x}"
    assert child["parent_span_id"] == root["span_id"] and root["parent_span_id"] is None
    assert child["attributes"] == {"jetbridge.step.name": "DRAIN"}
    assert child["start_ns"] <= child["end_ns"] and child["kind"] == "INTERNAL"


def test_each_line_is_span_to_dict_whatever_the_resource(tmp_path: Path) -> None:
    # The exporter caches each resource's part of the line; two providers, two resources.
    path = tmp_path / "spans.jsonl"
    exporter = JsonLinesSpanExporter(path)
    memory = InMemorySpanExporter()
    providers = [
        TracerProvider(resource=Resource.create({"service.name": name, "x": name}))
        for name in ("navigator", "pilot")
    ]
    for provider in providers:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        provider.add_span_processor(SimpleSpanProcessor(memory))
    for i in range(4):
        provider = providers[i % 2]
        with provider.get_tracer("t").start_as_current_span(f"s{i}", attributes={"i": i}):
            pass
    exporter.force_flush()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == [span_to_dict(span) for span in memory.get_finished_spans()]
    assert [line["service"] for line in lines] == ["navigator", "pilot"] * 2


def test_the_tracer_is_kept_and_serves_the_global_provider() -> None:
    exporter = _global_spans()
    assert tracer() is tracer()  # one Tracer, not one per span
    with tracer().start_as_current_span("kept"):
        pass
    assert [span.name for span in exporter.get_finished_spans()] == ["kept"]


def test_setup_tracing_names_the_service_and_writes_the_file_it_is_told(tmp_path: Path) -> None:
    path = tmp_path / "navigator.jsonl"
    provider = setup_tracing(
        "navigator", {TRACE_FILE_ENV: str(path)}, attributes={"jetbridge.cluster": "dp-east"}
    )
    with provider.get_tracer("t").start_as_current_span("work"):
        pass
    provider.force_flush()  # not shutdown: it may be the process's global provider now
    (span,) = (json.loads(line) for line in path.read_text().splitlines())
    assert span["service"] == "navigator"
    assert span["resource"]["jetbridge.cluster"] == "dp-east"


def test_each_mission_gets_its_own_trace_and_its_decisions_are_children_of_its_root() -> None:
    provider, exporter = _provider()
    tracer = MissionTracer(provider)
    created = [tracer.stamp(_record("MissionCreated", mission_id=m), m, None) for m in ("m1", "m2")]
    planned = tracer.stamp(_record("FlightPlanned", mission_id="m1", flight_id="f1"), "m1", None)
    (t1, root1), (t2, _) = (_traceparent(r) for r in created)
    assert t1 != t2
    trace_id, _ = _traceparent(planned)
    assert trace_id == t1
    spans = {s.name: s for s in exporter.get_finished_spans()}
    decision = spans["navigator.decide FlightPlanned"]
    assert decision.parent is not None and f"{decision.parent.span_id:016x}" == root1
    assert decision.attributes is not None
    assert decision.attributes["jetbridge.flight.id"] == "f1"
    roots = [s for s in exporter.get_finished_spans() if s.name == MISSION_ROOT]
    assert len(roots) == 2 and all(r.parent is None for r in roots)


def test_a_restarted_navigator_continues_a_missions_trace_from_the_stored_root() -> None:
    provider, _ = _provider()
    first = MissionTracer(provider)
    created = first.stamp(_record("MissionCreated", mission_id="m1"), "m1", None)
    again = MissionTracer(provider)  # a fresh process: recovery replays the store
    again.remember(created)
    later = again.stamp(_record("MissionSucceeded", mission_id="m1"), "m1", None)
    assert _traceparent(later)[0] == _traceparent(created)[0]


def test_a_cause_is_a_link_and_untraced_missions_stay_untraced() -> None:
    provider, exporter = _provider()
    tracer = MissionTracer(provider)
    cause = tracer.stamp(_record("MissionCreated", mission_id="other"), "other", None)
    tracer.stamp(_record("MissionCreated", mission_id="m1"), "m1", cause)
    root = next(
        s for s in exporter.get_finished_spans() if s.attributes["jetbridge.mission.id"] == "m1"
    )  # type: ignore[index]
    assert [f"{link.context.trace_id:032x}" for link in root.links] == [_traceparent(cause)[0]]
    old = _record("MissionStarted", mission_id="before-tracing")
    assert tracer.stamp(old, "before-tracing", None) is old
    assert tracer.stamp(old, None, None) is old


def _global_spans() -> InMemorySpanExporter:
    """An exporter on the process's (global) provider, installing one if none is."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


def test_span_from_continues_the_carrier_or_else_the_current_span() -> None:
    exporter = _global_spans()
    with span_from(None, "flight") as flight:
        carrier = current_trace_context()
        with span_from({}, "step"):  # no carrier: the current span's child, not a root
            pass
    with span_from(carrier, "elsewhere"):  # another process, given the carrier
        pass
    spans = {s.name: s for s in exporter.get_finished_spans()}
    flight_id = flight.get_span_context().span_id
    assert spans["step"].parent is not None and spans["step"].parent.span_id == flight_id
    assert spans["elsewhere"].parent is not None
    assert spans["elsewhere"].parent.span_id == flight_id
    assert spans["flight"].parent is None


def test_an_otlp_endpoint_receives_the_spans_over_http() -> None:
    """A stand-in collector on loopback: the OTLP/HTTP exporter posts protobuf to it."""
    bodies: list[bytes] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_port}"
        provider = setup_tracing("dispatcher", {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint})
        with provider.get_tracer("t").start_as_current_span("dispatcher.dispatch"):
            pass
        assert provider.force_flush(10_000)
    finally:
        server.shutdown()
    (request,) = (ExportTraceServiceRequest.FromString(b) for b in bodies)
    (resource_spans,) = request.resource_spans
    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert service["service.name"] == "dispatcher"
    assert [s.name for s in resource_spans.scope_spans[0].spans] == ["dispatcher.dispatch"]
