"""Renders ``docs/events.md``, the event catalogue, from the schema files.

The catalogue is generated, never hand-edited: ``python -m jetbridge.common.events.catalogue``
rewrites it, and a unit test fails when the committed file differs from what the
schemas say (so a new schema version cannot land without its documentation).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from jetbridge.common.events.registry import SchemaRegistry, default_schemas_dir
from jetbridge.common.topics import topic_specs

HEADER = """# Event catalogue

Generated from `schemas/avro/` by `python -m jetbridge.common.events.catalogue`; do not
edit by hand. Every event is Avro single-object encoded (`C3 01` + the CRC-64-AVRO
fingerprint of its writer schema + body), keyed on Kafka by its aggregate id, and
carries the envelope below. Stored versions are immutable; each version is readable
by and from its predecessor.
"""


def _type_name(avro_type: Any) -> str:
    if isinstance(avro_type, str):
        return avro_type
    if isinstance(avro_type, list):
        return " or ".join(_type_name(t) for t in avro_type)
    kind = avro_type.get("type")
    if kind == "enum":
        return f"enum {avro_type['name']} {{{', '.join(avro_type['symbols'])}}}"
    if kind == "array":
        return f"array<{_type_name(avro_type['items'])}>"
    if kind == "map":
        return f"map<{_type_name(avro_type['values'])}>"
    if kind == "record":
        return f"record {avro_type['name']}"
    logical = avro_type.get("logicalType")
    return f"{kind} ({logical})" if logical else str(kind)


def _fields_table(fields: list[dict[str, Any]]) -> list[str]:
    lines = ["| field | type | default | meaning |", "|---|---|---|---|"]
    for field in fields:
        default = json.dumps(field["default"]) if "default" in field else ""
        lines.append(
            f"| `{field['name']}` | {_type_name(field['type'])} | {default} "
            f"| {field.get('doc', '')} |"
        )
    return lines


def render(registry: SchemaRegistry) -> str:
    lines = [HEADER, "## Topics", "", "| topic | partitions | cleanup | retention | purpose |"]
    lines.append("|---|---|---|---|---|")
    for topic in topic_specs():
        retention = "forever" if topic.retention_ms < 0 else f"{topic.retention_ms} ms"
        lines.append(
            f"| `{topic.name}` | {topic.partitions} | {topic.cleanup_policy} | {retention} "
            f"| {topic.purpose} |"
        )
    for version, envelope in sorted(registry.envelopes.items()):
        lines += ["", f"## Envelope v{version}", "", *_fields_table(envelope["fields"])]
    lines += ["", "## Events", ""]
    for event_type in registry.event_types():
        versions = registry.versions(event_type)
        latest = versions[-1]
        lines += [
            f"### {event_type}",
            "",
            latest.definition.get("doc", ""),
            "",
            f"- topic: `{latest.topic}`; key: `{latest.key_field}`",
            "- versions: " + ", ".join(f"v{v.version} (`{v.fingerprint.hex()}`)" for v in versions),
            "",
            *_fields_table(latest.definition["fields"][1:]),
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def catalogue_path() -> Path:
    return default_schemas_dir().parent / "docs" / "events.md"


def main() -> int:
    catalogue_path().write_text(render(SchemaRegistry()))
    print(f"wrote {catalogue_path()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
