"""The compiled Avro readers decode exactly what fastavro decodes, and refuse what it refuses.

Every version of every event schema, with datums fastavro generates at random (every
union branch, empty and long arrays and maps, unicode, large and negative numbers).
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.utils import generate_many

from jetbridge.common.events import default_registry
from jetbridge.common.events.compiled_reader import compile_reader, without_logical_types

REGISTRY = default_registry()
SCHEMAS = [
    pytest.param(parse_schema(without_logical_types(v.parsed)), id=f"{t}.v{v.version}")
    for t in REGISTRY.event_types()
    for v in REGISTRY.versions(t)
]


def encode(schema: Any, datum: Any) -> bytes:
    buffer = io.BytesIO()
    schemaless_writer(buffer, schema, datum)
    return buffer.getvalue()


@pytest.mark.parametrize("schema", SCHEMAS)
def test_every_schema_decodes_as_fastavro_decodes_it(schema: Any) -> None:
    read = compile_reader(schema)
    for datum in generate_many(schema, 30):
        data = b"prefix" + encode(schema, datum)
        expected = schemaless_reader(io.BytesIO(data[6:]), schema, None)
        decoded, end = read(data, 6)
        assert decoded == expected
        assert end == len(data)


@pytest.mark.parametrize("schema", SCHEMAS[:8])
def test_skipped_fields_are_absent_and_the_rest_unchanged(schema: Any) -> None:
    def keep(path: str) -> bool:
        return not path.startswith("envelope.") or path == "envelope.event_id"

    read = compile_reader(schema, keep)
    for datum in generate_many(schema, 10):
        data = encode(schema, datum)
        full = schemaless_reader(io.BytesIO(data), schema, None)
        decoded, end = read(data, 0)
        assert decoded == {**full, "envelope": {"event_id": full["envelope"]["event_id"]}}
        assert end == len(data)


PRIMITIVES = {
    "type": "record",
    "name": "Sample",
    "fields": [
        {"name": "s", "type": "string"},
        {"name": "big", "type": "long"},
        {"name": "d", "type": "double"},
        {"name": "f", "type": "float"},
        {"name": "raw", "type": "bytes"},
        {"name": "ok", "type": "boolean"},
        {"name": "fx", "type": {"type": "fixed", "name": "Four", "size": 4}},
        {"name": "e", "type": {"type": "enum", "name": "Colour", "symbols": ["RED", "BLUE"]}},
        {"name": "again", "type": "Colour"},
        {"name": "m", "type": {"type": "map", "values": {"type": "array", "items": "long"}}},
        {"name": "maybe", "type": ["null", "string", "long"]},
    ],
}


def test_types_the_events_do_not_use_yet_and_named_references() -> None:
    schema = parse_schema(PRIMITIVES)
    datum = {
        "s": "Zürich ☃ 'quoted'",
        "big": -(2**62),
        "d": 2.5,
        "f": 0.5,
        "raw": b"\x00\xff",
        "ok": True,
        "fx": b"abcd",
        "e": "BLUE",
        "again": "RED",
        "m": {"a": [1, -1, 2**40], "": []},
        "maybe": 7,
    }
    assert compile_reader(schema)(encode(schema, datum), 0) == (datum, len(encode(schema, datum)))


def test_a_truncated_record_is_refused_at_every_length() -> None:
    schema = parse_schema(PRIMITIVES)
    data = encode(schema, next(iter(generate_many(schema, 1))))
    read = compile_reader(schema)
    for cut in range(len(data)):
        with pytest.raises(ValueError, match="record too short"):
            read(data[:cut], 0)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"\x01", "negative string length"),  # zigzag 1 = -1
        (b"\x7e", "record too short"),  # 63 bytes
        (b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", "varint longer than 10 bytes"),
    ],
)
def test_malformed_lengths_and_varints_are_refused(body: bytes, error: str) -> None:
    schema = parse_schema(PRIMITIVES)
    with pytest.raises(ValueError, match=error):
        compile_reader(schema)(body, 0)


def test_an_out_of_range_union_or_enum_index_is_refused() -> None:
    union = parse_schema({"type": "record", "name": "U", "fields": [
        {"name": "u", "type": ["null", "string"]}]})  # fmt: skip
    with pytest.raises(ValueError, match="union index 2 out of range"):
        compile_reader(union)(b"\x04", 0)
    enum = parse_schema({"type": "record", "name": "E", "fields": [
        {"name": "e", "type": {"type": "enum", "name": "C", "symbols": ["A"]}}]})  # fmt: skip
    with pytest.raises(ValueError, match="enum index 1 out of range"):
        compile_reader(enum)(b"\x02", 0)
    with pytest.raises(ValueError, match="negative enum index"):
        compile_reader(enum)(b"\x01", 0)
