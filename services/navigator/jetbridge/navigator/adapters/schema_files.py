"""The Navigator's domain events and their Avro schema files, kept in step.

``mismatches()`` compares every domain event dataclass with the newest stored schema
of its type (field names, types, defaults, key and topic); a unit test requires it
to be empty. ``python -m jetbridge.navigator.adapters.schema_files`` writes a v1
schema for every domain event that has none yet (a starting point to review, never a
rewrite of a stored version).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import typing
from pathlib import Path
from typing import Any

from jetbridge.common.events import SchemaRegistry
from jetbridge.common.events.registry import default_schemas_dir
from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.events.catalogue import EVENT_TYPES, avro_type, enum_for

_PRIMITIVE = {"string", "long", "boolean", "double"}


def _avro_field_type(event: str, name: str, rendered: str, declared: set[str]) -> Any:
    enum = enum_for(event, name)
    if rendered.startswith("array<"):
        return {"type": "array", "items": _avro_field_type(event, name, rendered[6:-1], declared)}
    if rendered.startswith("null|"):
        return ["null", _avro_field_type(event, name, rendered[5:], declared)]
    if enum is not None and rendered == "string":
        if enum.__name__ in declared:
            return enum.__name__
        declared.add(enum.__name__)
        return {"type": "enum", "name": enum.__name__, "symbols": [m.value for m in enum]}
    if rendered in _PRIMITIVE:
        return rendered
    raise TypeError(f"{event}.{name}: no Avro type for {rendered}")


def _default(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def schema_for(cls: type[ev.DomainEvent]) -> dict[str, Any]:
    """The v1 schema a domain event would get: its fields, its key and its topic."""
    hints = typing.get_type_hints(cls)
    declared: set[str] = set()
    fields = []
    for field in dataclasses.fields(cls):
        rendered = avro_type(hints[field.name])
        entry: dict[str, Any] = {
            "name": field.name,
            "type": _avro_field_type(cls.event_type(), field.name, rendered, declared),
        }
        default = _default(field)
        if default is not dataclasses.MISSING:
            entry["default"] = default
        fields.append(entry)
    doc = " ".join((cls.__doc__ or cls.event_type()).split())
    return {
        "type": "record",
        "name": cls.event_type(),
        "namespace": "jetbridge.events",
        "doc": doc,
        "jetbridge.envelope": 1,
        "jetbridge.topic": cls.TOPIC,
        "jetbridge.key": cls.KEY,
        "fields": fields,
    }


def _comparable(avro: Any) -> Any:
    """A type with docs and enum names stripped: what must agree between code and file."""
    if isinstance(avro, list):
        return [_comparable(t) for t in avro]
    if isinstance(avro, dict):
        if avro.get("type") == "enum":
            return ("enum", tuple(avro["symbols"]))
        if avro.get("type") == "array":
            return ("array", _comparable(avro["items"]))
        if "logicalType" in avro:  # decodes to another Python type (datetime, Decimal...)
            return (avro["type"], avro["logicalType"])
        return _comparable(avro["type"])
    return "long" if avro == "int" else avro  # both are Python ints


def mismatches(registry: SchemaRegistry | None = None) -> list[str]:
    registry = registry or SchemaRegistry()
    problems: list[str] = []
    for cls in EVENT_TYPES:
        name = cls.event_type()
        if name not in registry.event_types():
            problems.append(f"{name}: no schema file")
            continue
        stored = registry.latest(name)
        wanted = schema_for(cls)
        if (stored.topic, stored.key_field) != (wanted["jetbridge.topic"], cls.KEY):
            problems.append(f"{name}: topic/key {stored.topic}/{stored.key_field} differ")
        stored_fields = {f["name"]: f for f in stored.definition["fields"][1:]}
        enums = _named_enums(stored.definition)
        for field in wanted["fields"]:
            have = stored_fields.pop(field["name"], None)
            if have is None:
                problems.append(f"{name}.{field['name']}: not in the schema")
                continue
            want_type = _comparable(field["type"])
            have_type = _comparable(_resolve(have["type"], enums))
            if want_type != have_type and not _same_named_enum(want_type, have_type):
                problems.append(f"{name}.{field['name']}: schema {have_type} != code {want_type}")
        for extra, have in stored_fields.items():
            if "default" not in have:
                problems.append(f"{name}.{extra}: in the schema without a default, not in code")
    return problems


def _named_enums(definition: Any, found: dict[str, Any] | None = None) -> dict[str, Any]:
    found = {} if found is None else found
    if isinstance(definition, dict):
        if definition.get("type") == "enum":
            found[definition["name"]] = definition
        for value in definition.values():
            _named_enums(value, found)
    elif isinstance(definition, list):
        for value in definition:
            _named_enums(value, found)
    return found


def _resolve(avro: Any, enums: dict[str, Any]) -> Any:
    if isinstance(avro, str) and avro in enums:
        return enums[avro]
    if isinstance(avro, list):
        return [_resolve(t, enums) for t in avro]
    if isinstance(avro, dict) and avro.get("type") == "array":
        return {**avro, "items": _resolve(avro["items"], enums)}
    return avro


def _same_named_enum(want: Any, have: Any) -> bool:
    return isinstance(want, str) and isinstance(have, tuple) and have[0] == "enum"


def write_missing(directory: Path | None = None) -> list[Path]:
    directory = directory or default_schemas_dir() / "avro" / "events"
    written = []
    for cls in EVENT_TYPES:
        if not list(directory.glob(f"{cls.event_type()}.v*.avsc")):
            path = directory / f"{cls.event_type()}.v1.avsc"
            path.write_text(json.dumps(schema_for(cls), indent=2) + "\n")
            written.append(path)
    return written


if __name__ == "__main__":
    for path in write_missing():
        print(f"wrote {path}")
    for problem in mismatches():
        print(problem)
    sys.exit(0)
