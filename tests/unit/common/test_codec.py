"""Avro single-object encoding: round trips, header, and typed errors for bad bytes."""

from __future__ import annotations

import io
import json
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastavro import schemaless_reader, schemaless_writer
from fastavro.utils import generate_many

from jetbridge.common.events import (
    EventCodec,
    EventRecord,
    InvalidEvent,
    MalformedRecord,
    SchemaRegistry,
    UnknownEventType,
    UnknownSchemaFingerprint,
    new_event,
)
from jetbridge.common.events.codec import HEADER_LENGTH, MAGIC
from jetbridge.common.events.envelope import Envelope
from jetbridge.common.events.registry import SchemaVersion, default_schemas_dir

REGISTRY = SchemaRegistry()
CODEC = EventCodec(REGISTRY)


def _failover_requested(**overrides: object) -> dict[str, object]:
    payload: dict[str, object] = {
        "request_id": "req-1",
        "source_cluster_id": "eu-west",
        "destination_cluster_id": "eu-central",
        "mode": "CONTROLLED",
        "requested_by": "alice",
        "requested_at": 1_700_000_000_000,
        "deployment_ids": ["d1", "d2"],
    }
    payload.update(overrides)
    return payload


def _event(payload: dict[str, object], version: int = 1) -> EventRecord:
    return new_event(
        "FailoverRequested",
        payload,
        aggregate_type="FailoverRequest",
        aggregate_id=str(payload["request_id"]),
        producer="test",
        schema_version=version,
        actor="alice",
    )


def _with_defaults(payload: dict[str, object]) -> dict[str, object]:
    """What a reader gets: every field, defaults filled in."""
    return CODEC.decode(CODEC.encode(_event(payload))).payload  # type: ignore[return-value]


def test_encoded_event_starts_with_magic_and_the_writer_fingerprint() -> None:
    event = _event(_with_defaults(_failover_requested()))
    data = CODEC.encode(event)
    assert data[:2] == MAGIC == b"\xc3\x01"
    assert data[2:10] == REGISTRY.version("FailoverRequested", 1).fingerprint
    assert CODEC.decode(data) == event


@pytest.mark.parametrize("event_type", REGISTRY.event_types())
def test_every_schema_version_round_trips_generated_data(event_type: str) -> None:
    for schema in REGISTRY.versions(event_type):
        for datum in generate_many(schema.parsed, 5):
            body = io.BytesIO()
            schemaless_writer(body, schema.parsed, datum)
            # What a reader of exactly this version sees (logical types applied).
            expected = schemaless_reader(io.BytesIO(body.getvalue()), schema.parsed)
            decoded = CODEC.decode(MAGIC + schema.fingerprint + body.getvalue())
            assert decoded.event_type == datum["envelope"]["event_type"]
            assert decoded.envelope.aggregate_id == datum["envelope"]["aggregate_id"]
            for field, value in expected.items():
                if field != "envelope":
                    assert decoded.payload[field] == value


def _fastavro_decoded(schema: SchemaVersion, body: bytes) -> EventRecord:
    """What the codec made of a newest-version body before its compiled readers."""
    datum = schemaless_reader(io.BytesIO(body), schema.parsed, None)
    assert isinstance(datum, dict)
    return EventRecord(envelope=Envelope.from_avro(datum.pop("envelope")), payload=datum)


@pytest.mark.parametrize("event_type", REGISTRY.event_types())
def test_the_compiled_path_decodes_exactly_what_fastavro_decodes(event_type: str) -> None:
    """The whole record, envelope included (its time a UTC datetime, its id a string)."""
    schema = REGISTRY.latest(event_type)
    for datum in generate_many(schema.parsed, 20):
        body = io.BytesIO()
        schemaless_writer(body, schema.parsed, datum)
        decoded = CODEC.decode(MAGIC + schema.fingerprint + body.getvalue())
        assert decoded == _fastavro_decoded(schema, body.getvalue())
        assert decoded.envelope.occurred_at.tzinfo is UTC


@pytest.mark.parametrize(("event_id", "time_ms"), [("not-a-uuid", 0), (str(uuid.uuid4()), 2**62)])
def test_an_envelope_fastavro_refused_is_still_refused(event_id: str, time_ms: int) -> None:
    event = _event(_with_defaults(_failover_requested()))
    schema = REGISTRY.latest("FailoverRequested")
    datum = {"envelope": event.envelope.as_avro(), **event.payload}
    datum["envelope"].update(event_id=event_id, occurred_at=time_ms)
    body = io.BytesIO()
    schemaless_writer(body, schema.parsed, datum)
    with pytest.raises(MalformedRecord, match=r"FailoverRequested\.v1 body does not decode"):
        CODEC.decode(MAGIC + schema.fingerprint + body.getvalue())


def test_every_cut_of_a_record_is_malformed_and_named() -> None:
    data = CODEC.encode(_event(_with_defaults(_failover_requested())))
    for end in range(HEADER_LENGTH, len(data)):
        with pytest.raises(MalformedRecord, match=r"FailoverRequested\.v1 body does not decode"):
            CODEC.decode(data[:end])


def test_old_version_is_read_as_the_newest_with_defaults(tmp_path: Path) -> None:
    shutil.copytree(default_schemas_dir() / "avro", tmp_path / "avro")
    v1 = json.loads((tmp_path / "avro/events/FailoverRequested.v1.avsc").read_text())
    v1["fields"].append({"name": "ticket", "type": "string", "default": "none"})
    (tmp_path / "avro/events/FailoverRequested.v2.avsc").write_text(json.dumps(v1))
    codec = EventCodec(SchemaRegistry(tmp_path))
    decoded = codec.decode(codec.encode(_event(_with_defaults(_failover_requested()))))
    assert decoded.payload["ticket"] == "none"
    assert decoded.payload["request_id"] == "req-1"
    assert decoded.envelope.schema_version == 1  # the envelope still says who wrote it


def test_occurred_at_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        new_event(
            "FailoverRequested",
            _failover_requested(),
            aggregate_type="FailoverRequest",
            aggregate_id="r",
            producer="t",
            schema_version=1,
            occurred_at=datetime(2026, 1, 1),
        )


def test_follow_up_event_inherits_correlation_and_names_its_cause() -> None:
    cause = _event(_failover_requested())
    follow = new_event(
        "ClusterHealthChanged",
        {"cluster_id": "c", "previous": "HEALTHY", "current": "DEGRADED", "reason": "silence"},
        aggregate_type="Cluster",
        aggregate_id="c",
        producer="t",
        schema_version=1,
        caused_by=cause,  # type: ignore[arg-type]
        occurred_at=datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC),
    )
    assert follow.envelope.correlation_id == "req-1"
    assert follow.envelope.causation_id == cause.envelope.event_id  # type: ignore[attr-defined]
    assert follow.envelope.occurred_at.microsecond == 123000


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", MalformedRecord),
        (b"{json: true}", MalformedRecord),
        (b"\xc3\x01" + b"\x00" * 8 + b"body", UnknownSchemaFingerprint),
    ],
)
def test_bad_bytes_raise_typed_errors(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error) as raised:
        CODEC.decode(data)
    assert raised.value.reason  # type: ignore[attr-defined]


def test_truncated_body_is_malformed() -> None:
    data = CODEC.encode(_event(_failover_requested()))  # type: ignore[arg-type]
    with pytest.raises(MalformedRecord, match=r"FailoverRequested\.v1"):
        CODEC.decode(data[:30])


def test_invalid_payload_is_refused_before_publishing_and_names_the_field() -> None:
    with pytest.raises(InvalidEvent, match="mode"):
        CODEC.encode(_event(_failover_requested(mode="SIDEWAYS")))  # type: ignore[arg-type]


def test_unknown_event_type_is_a_typed_error() -> None:
    with pytest.raises(UnknownEventType):
        REGISTRY.latest("NoSuchEvent")
