"""Every stored schema version resolves against its predecessor, both ways."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from jetbridge.common.events.evolution import check_registry
from jetbridge.common.events.registry import SchemaRegistry, default_schemas_dir


def test_every_stored_version_resolves_against_its_predecessor() -> None:
    assert check_registry(SchemaRegistry()) == []


def test_a_compatible_new_version_passes(tmp_path: Path) -> None:
    """The rule holds for a well-made change (so the check is not just always failing)."""
    schemas = _copy_schemas(tmp_path)
    v1 = schemas / "avro/events/FailoverRequested.v1.avsc"
    definition = json.loads(v1.read_text())
    definition["fields"].append({"name": "ticket", "type": "string", "default": ""})
    (schemas / "avro/events/FailoverRequested.v2.avsc").write_text(json.dumps(definition))
    registry = SchemaRegistry(schemas)
    assert [v.version for v in registry.versions("FailoverRequested")] == [1, 2]
    assert check_registry(registry) == []


def _copy_schemas(tmp_path: Path) -> Path:
    target = tmp_path / "schemas"
    shutil.copytree(default_schemas_dir() / "avro", target / "avro")
    return target


def test_a_renamed_field_breaks_the_rule_and_is_reported(tmp_path: Path) -> None:
    schemas = _copy_schemas(tmp_path)
    v1 = schemas / "avro/events/FailoverRequested.v1.avsc"
    definition = json.loads(v1.read_text())
    definition["fields"][1]["name"] = "from_cluster_id"  # renamed, no default, no alias
    (schemas / "avro/events/FailoverRequested.v2.avsc").write_text(json.dumps(definition))
    problems = check_registry(SchemaRegistry(schemas))
    assert problems and all("FailoverRequested v" in p for p in problems)
    assert any("v1 -> v2" in p for p in problems)


def test_a_new_field_without_default_breaks_old_events(tmp_path: Path) -> None:
    schemas = _copy_schemas(tmp_path)
    v1 = schemas / "avro/events/FailoverRequested.v1.avsc"
    definition = json.loads(v1.read_text())
    definition["fields"].append({"name": "ticket", "type": "string"})
    (schemas / "avro/events/FailoverRequested.v2.avsc").write_text(json.dumps(definition))
    problems = check_registry(SchemaRegistry(schemas))
    assert any("new readers reading old events" in p for p in problems)


def test_a_gap_in_version_numbers_is_reported(tmp_path: Path) -> None:
    schemas = _copy_schemas(tmp_path)
    v1 = schemas / "avro/events/FailoverRequested.v1.avsc"
    definition = json.loads(v1.read_text())
    definition["doc"] = "changed"
    definition["fields"].append({"name": "note", "type": "string", "default": ""})
    (schemas / "avro/events/FailoverRequested.v3.avsc").write_text(json.dumps(definition))
    assert any("v1 is followed by v3" in p for p in check_registry(SchemaRegistry(schemas)))


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (lambda d: d.update(name="Other"), "record name"),
        (lambda d: d.update({"jetbridge.key": "nope"}), "key field"),
        (lambda d: d["fields"].append({"name": "envelope", "type": "string"}), "reserved"),
    ],
)
def test_malformed_schema_files_are_refused_with_the_reason(
    tmp_path: Path, mutation: object, message: str
) -> None:
    schemas = _copy_schemas(tmp_path)
    path = schemas / "avro/events/FencingCompleted.v1.avsc"
    definition = json.loads(path.read_text())
    mutation(definition)  # type: ignore[operator]
    path.write_text(json.dumps(definition))
    with pytest.raises(ValueError, match=message):
        SchemaRegistry(schemas)
