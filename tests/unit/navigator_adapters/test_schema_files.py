"""The Navigator's domain events and the stored Avro schemas agree, field by field."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from jetbridge.common.events import EventCodec, SchemaRegistry
from jetbridge.common.events.registry import default_schemas_dir
from jetbridge.navigator.adapters.event_mapping import EventMapper
from jetbridge.navigator.adapters.schema_files import mismatches
from jetbridge.navigator.domain import events as ev


def test_every_domain_event_has_a_matching_schema() -> None:
    assert mismatches() == []


def test_a_field_missing_from_the_schema_is_reported(tmp_path: Path) -> None:
    shutil.copytree(default_schemas_dir() / "avro", tmp_path / "avro")
    path = tmp_path / "avro/events/FlightStepFailed.v2.avsc"  # the newest is compared
    definition = json.loads(path.read_text())
    definition["fields"] = [f for f in definition["fields"] if f["name"] != "transient"]
    path.write_text(json.dumps(definition))
    assert mismatches(SchemaRegistry(tmp_path)) == ["FlightStepFailed.transient: not in the schema"]


def test_a_domain_event_survives_the_wire_unchanged() -> None:
    registry = SchemaRegistry()
    mapper = EventMapper(registry, producer="test")
    event = ev.FlightStepFailed(
        flight_id="r1/d1/destination",
        step="UPSERT_DEPLOYMENT",
        attempt=2,
        error_code="IMAGE_PULL",
        error="image registry.example.com/a:1 not found",
        transient=True,
        failed_at=1_700_000_000_123,
    )
    record = mapper.to_record(
        event, correlation_id="r1", caused_by=None, actor=None, occurred_at_ms=1_700_000_000_123
    )
    codec = EventCodec(registry)
    decoded = codec.decode(codec.encode(record))
    assert mapper.to_domain(decoded) == event
    assert decoded.envelope.correlation_id == "r1"
    assert decoded.envelope.aggregate_type == "Flight"
