"""One trace per Mission: a root span when the Mission is decided, every later
decision of that Mission a child of it.

The Navigator decides in batches that mix many Missions, so the ambient context of a
batch means nothing; each decision is stamped instead with its Mission's context
(``Envelope.trace_context``, hence the Kafka headers), and the Dispatcher, the agent
and the Pilot continue from there. The root's context lives in the MissionCreated
record itself, so a restarted Navigator recovers it with the history.

What caused a decision (a step outcome, a deadline's input) is another trace's span
or another Mission's: it is a span *link*, never the parent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TracerProvider

from jetbridge.common.events import EventRecord
from jetbridge.common.telemetry import TRACER, context_of, link_to

MISSION_ROOT = "navigator.mission"
DECISION = "navigator.decide"


class MissionTracer:
    """Knows each traced Mission's root span context; stamps records with a child's."""

    def __init__(self, provider: TracerProvider | None = None) -> None:
        self._roots: dict[str, SpanContext] = {}
        self._tracer = trace.get_tracer(TRACER, tracer_provider=provider)

    def remember(self, record: EventRecord) -> None:
        """Recovery: a stored MissionCreated names its Mission's root span."""
        if record.event_type != "MissionCreated":
            return
        parent = trace.get_current_span(context_of(record.envelope.trace_context))
        if parent.get_span_context().is_valid:
            self._roots[str(record.payload["mission_id"])] = parent.get_span_context()

    def forget(self, mission_id: str) -> None:
        self._roots.pop(mission_id, None)

    def roots(self, mission_ids: Iterable[str]) -> dict[str, tuple[int, int, int]]:
        """The root spans of ``mission_ids`` (those known), as plain numbers (a
        snapshot keeps them: trace id, span id, flags)."""
        out = {}
        for mission_id in mission_ids:
            if (root := self._roots.get(mission_id)) is not None:
                out[mission_id] = (root.trace_id, root.span_id, int(root.trace_flags))
        return out

    def restore_roots(self, roots: Mapping[str, tuple[int, int, int]]) -> None:
        for mission_id, (trace_id, span_id, flags) in roots.items():
            self._roots[mission_id] = SpanContext(
                trace_id, span_id, is_remote=True, trace_flags=TraceFlags(flags)
            )

    def stamp(
        self, record: EventRecord, mission_id: str | None, cause: EventRecord | None
    ) -> EventRecord:
        """The record with the trace context of its span (unchanged if untraced)."""
        if mission_id is None:
            return record
        tracer = self._tracer
        links = link_to(cause.envelope.trace_context) if cause is not None else []
        attributes = _attributes(record, mission_id)
        if record.event_type == "MissionCreated":
            # A new trace: an empty context as parent, whatever is current.
            span = tracer.start_span(
                MISSION_ROOT, context=Context(), attributes=attributes, links=links
            )
            self._roots[mission_id] = span.get_span_context()
        else:
            root = self._roots.get(mission_id)
            if root is None:  # decided before tracing was on: leave it untraced
                return record
            parent = trace.set_span_in_context(NonRecordingSpan(root))
            span = tracer.start_span(
                f"{DECISION} {record.event_type}",
                context=parent,
                attributes=attributes,
                links=links,
            )
        span.end()
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        return with_trace_context(record, carrier)


def with_trace_context(record: EventRecord, carrier: Mapping[str, str]) -> EventRecord:
    envelope = dataclasses.replace(record.envelope, trace_context=dict(carrier))
    return dataclasses.replace(record, envelope=envelope)


def _attributes(record: EventRecord, mission_id: str) -> dict[str, str]:
    out = {
        "jetbridge.mission.id": mission_id,
        "jetbridge.event.type": record.event_type,
        "jetbridge.event.id": record.event_id,
        "jetbridge.request.id": record.envelope.correlation_id,
    }
    for field, key in _PAYLOAD_ATTRIBUTES.items():
        if value := record.payload.get(field):
            out[key] = str(value)
    return out


_PAYLOAD_ATTRIBUTES = {
    "flight_id": "jetbridge.flight.id",
    "deployment_id": "jetbridge.deployment.id",
    "step": "jetbridge.step.name",
}
