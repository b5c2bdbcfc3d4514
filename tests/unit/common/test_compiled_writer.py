"""The compiled Avro writers accept exactly what fastavro validates and write its bytes.

Every version of every event schema, with datums fastavro generates at random, and the
same datums with each field (of the record and of its envelope) missing or replaced by
a value of every wrong kind.
"""

from __future__ import annotations

import enum
import io
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_writer
from fastavro.utils import generate_many
from fastavro.validation import validate

from jetbridge.common.events import (
    EventCodec,
    InvalidEvent,
    SchemaRegistry,
    default_registry,
    new_event,
)
from jetbridge.common.events.compiled_writer import NotCompiled, Unfit, compile_writer

REGISTRY = default_registry()
VERSIONS = [
    pytest.param(v, id=f"{t}.v{v.version}")
    for t in REGISTRY.event_types()
    for v in REGISTRY.versions(t)
]
WRONG = [
    None,
    "text",
    0,
    1,
    0.0,
    7,
    -(2**63) - 1,
    2**31,
    True,
    1.5,
    [],
    ["a"],
    {},
    {"k": 1},
    b"raw",
]


def fastavro_bytes(schema: Any, datum: Any) -> bytes | None:
    """What the codec wrote before: None where fastavro's ``validate`` refused."""
    if not validate(datum, schema, raise_errors=False):
        return None
    buffer = io.BytesIO()
    schemaless_writer(buffer, schema, datum)
    return buffer.getvalue()


def compiled_bytes(write: Any, datum: Any) -> bytes | None:
    try:
        return bytes(write(datum))
    except Unfit:
        return None


@pytest.mark.parametrize("version", VERSIONS)
def test_generated_datums_are_written_byte_for_byte_as_fastavro_writes_them(version: Any) -> None:
    write = compile_writer(version.parsed)
    for datum in generate_many(version.parsed, 30):
        expected = fastavro_bytes(version.parsed, datum)
        assert expected is not None
        assert compiled_bytes(write, datum) == expected


@pytest.mark.parametrize("version", VERSIONS)
def test_a_missing_or_wrong_field_is_refused_exactly_when_fastavro_refuses_it(
    version: Any,
) -> None:
    write = compile_writer(version.parsed)
    for datum in generate_many(version.parsed, 3):
        for variant in _variants(datum):
            assert compiled_bytes(write, variant) == fastavro_bytes(version.parsed, variant)


def _variants(datum: dict[str, Any]) -> list[dict[str, Any]]:
    """The datum with one field (or one of its envelope's) missing or wrong."""
    out: list[dict[str, Any]] = []
    for name in datum:
        out.append({k: v for k, v in datum.items() if k != name})
        out.extend({**datum, name: wrong} for wrong in WRONG)
    envelope = datum["envelope"]
    for name in envelope:
        out.append({**datum, "envelope": {k: v for k, v in envelope.items() if k != name}})
        out.extend({**datum, "envelope": {**envelope, name: wrong}} for wrong in WRONG)
    return out


class Colour(enum.StrEnum):
    RED = "RED"


class Count(enum.IntEnum):
    TWO = 2


SAMPLE = {
    "type": "record",
    "name": "Sample",
    "fields": [
        {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "n", "type": "int"},
        {"name": "d", "type": "double"},
        {"name": "e", "type": {"type": "enum", "name": "Colour", "symbols": ["RED", "BLUE"]}},
        {"name": "again", "type": "Colour"},
        {"name": "tags", "type": {"type": "map", "values": "string"}, "default": {}},
        {"name": "maybe", "type": ["null", "long"], "default": None},
        {"name": "big", "type": {"type": "array", "items": "long"}},
    ],
}


@pytest.mark.parametrize(
    "datum",
    [
        {"id": uuid.uuid4(), "at": datetime(2026, 12, 7, 8, 0, 0, 999_999, tzinfo=UTC)},
        {"id": str(uuid.uuid4()), "at": 1_765_000_000_000, "n": Count.TWO, "d": 3},
        {"id": "x", "at": datetime(1969, 12, 31, 23, 59, tzinfo=UTC), "e": Colour.RED},
        {"id": "x", "at": -1, "d": float("inf"), "big": [2**63 - 1, -(2**63), 0]},
        {"id": "x", "at": 0, "again": "BLUE", "tags": {"é": "☃"}, "maybe": 2**40},
    ],
)
def test_logical_types_python_enums_and_edges_match_fastavro(datum: dict[str, Any]) -> None:
    schema = parse_schema(SAMPLE)
    full = {"n": 1, "d": 0.5, "e": "BLUE", "again": "RED", "big": [], **datum}
    assert compiled_bytes(compile_writer(schema), full) == fastavro_bytes(schema, full)
    assert fastavro_bytes(schema, full) is not None


def test_a_schema_outside_the_scope_is_not_compiled() -> None:
    with pytest.raises(NotCompiled, match="bytes"):
        compile_writer(parse_schema({**SAMPLE, "fields": [{"name": "b", "type": "bytes"}]}))
    with pytest.raises(NotCompiled, match="union"):
        compile_writer(
            parse_schema({**SAMPLE, "fields": [{"name": "u", "type": ["string", "long"]}]})
        )


def test_the_codec_still_names_the_field_that_does_not_fit() -> None:
    codec = EventCodec(SchemaRegistry())
    event = codec.decode(codec.encode(_cluster_health("HEALTHY")))
    assert event.payload["current"] == "HEALTHY"
    with pytest.raises(InvalidEvent, match="current"):
        codec.encode(_cluster_health("SIDEWAYS"))


def _cluster_health(current: str) -> Any:
    return new_event(
        "ClusterHealthChanged",
        {"cluster_id": "c", "previous": "UNKNOWN", "current": current, "reason": ""},
        aggregate_type="Cluster",
        aggregate_id="c",
        producer="test",
        schema_version=1,
    )


def test_a_fit_datum_a_compiled_writer_refused_is_written_by_fastavro(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The fallback that keeps a writer bug from refusing a valid event (none known)."""
    codec = EventCodec(SchemaRegistry())
    event = _cluster_health("HEALTHY")
    expected = codec.encode(event)
    schema = codec.schema_for(event)

    def refuses(datum: Any) -> bytes:
        raise Unfit("envelope")

    codec._writers[schema.fingerprint] = refuses
    assert codec.encode(event) == expected
    assert "ClusterHealthChanged.v1: written by fastavro" in caplog.text
