"""Schema evolution rule: each version stays readable by and from its predecessor.

Checked by encoding generated data with one version and resolving it with the other,
in both directions, with fastavro's own schema resolution (what consumers do).
"""

from __future__ import annotations

import io
import itertools

from fastavro import schemaless_reader, schemaless_writer
from fastavro.utils import generate_many

from jetbridge.common.events.registry import SchemaRegistry, SchemaVersion


def incompatibilities(older: SchemaVersion, newer: SchemaVersion, samples: int = 20) -> list[str]:
    """Every way in which ``newer`` breaks the rule against ``older`` (empty: it holds)."""
    problems = []
    for writer, reader, direction in (
        (older, newer, "new readers reading old events"),
        (newer, older, "old readers reading new events"),
    ):
        for datum in generate_many(writer.parsed, samples):
            buffer = io.BytesIO()
            schemaless_writer(buffer, writer.parsed, datum)
            buffer.seek(0)
            try:
                schemaless_reader(buffer, writer.parsed, reader.parsed)
            except Exception as error:
                problems.append(
                    f"{writer.event_type} v{writer.version} -> v{reader.version} "
                    f"({direction}): {error}"
                )
                break
    return problems


def check_registry(registry: SchemaRegistry) -> list[str]:
    """Resolve every stored version against its predecessor."""
    problems: list[str] = []
    for event_type in registry.event_types():
        versions = registry.versions(event_type)
        for older, newer in itertools.pairwise(versions):
            if newer.version != older.version + 1:
                problems.append(f"{event_type}: v{older.version} is followed by v{newer.version}")
            problems.extend(incompatibilities(older, newer))
    return problems
