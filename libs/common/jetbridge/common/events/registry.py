"""Every stored Avro schema version, indexed by event type and by fingerprint.

There is no registry server: ``schemas/avro`` holds every version ever published.
An event file holds the payload record; the writer schema is that record with an
``envelope`` field of the Envelope version it names prepended (see schemas/README.md).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

from jetbridge.common.events.errors import UnknownEventType, UnknownSchemaFingerprint

_VERSIONED_FILE = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9]*)\.v(?P<version>[1-9][0-9]*)\.avsc$")


def default_schemas_dir() -> Path:
    """The packaged copy of schemas/ (wheel), else the repository's own."""
    packaged = Path(__file__).resolve().parents[1] / "_schemas"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[5] / "schemas"


@dataclass(frozen=True)
class SchemaVersion:
    """One event type at one version, ready to encode and decode."""

    event_type: str
    version: int
    topic: str
    key_field: str
    envelope_version: int
    definition: dict[str, Any]  # the composed writer schema, as JSON
    parsed: Any  # fastavro's parsed form
    fingerprint: bytes  # 8 bytes, CRC-64-AVRO of the canonical form, little-endian

    @property
    def canonical_form(self) -> str:
        return str(to_parsing_canonical_form(self.parsed))


class SchemaRegistry:
    """Loads every ``*.vN.avsc`` once; lookups are dict hits on the hot path."""

    def __init__(self, schemas_dir: Path | None = None) -> None:
        root = (schemas_dir or default_schemas_dir()) / "avro"
        self.envelopes = _load_envelopes(root)
        self._by_type: dict[str, dict[int, SchemaVersion]] = {}
        self._by_fingerprint: dict[bytes, SchemaVersion] = {}
        for path in sorted((root / "events").glob("*.avsc")):
            version = self._compose(path)
            self._by_type.setdefault(version.event_type, {})[version.version] = version
            if version.fingerprint in self._by_fingerprint:
                other = self._by_fingerprint[version.fingerprint]
                raise ValueError(
                    f"{path.name} has the same fingerprint as "
                    f"{other.event_type}.v{other.version}: a new version must change the schema"
                )
            self._by_fingerprint[version.fingerprint] = version

    def _compose(self, path: Path) -> SchemaVersion:
        match = _VERSIONED_FILE.match(path.name)
        if not match:
            raise ValueError(f"{path}: schema files are named <EventType>.v<N>.avsc")
        payload = json.loads(path.read_text())
        if payload.get("name") != match["name"]:
            raise ValueError(f"{path}: record name {payload.get('name')!r} != file name")
        envelope_version = int(payload["jetbridge.envelope"])
        if envelope_version not in self.envelopes:
            raise ValueError(f"{path}: no Envelope.v{envelope_version}.avsc")
        fields = payload["fields"]
        if any(field["name"] == "envelope" for field in fields):
            raise ValueError(f"{path}: 'envelope' is reserved")
        if payload["jetbridge.key"] not in {field["name"] for field in fields}:
            raise ValueError(f"{path}: key field {payload['jetbridge.key']!r} is not a field")
        definition = {
            key: value for key, value in payload.items() if not key.startswith("jetbridge.")
        }
        definition["fields"] = [
            {"name": "envelope", "type": self.envelopes[envelope_version]},
            *fields,
        ]
        parsed = parse_schema(definition, _write_hint=False)
        canonical = to_parsing_canonical_form(parsed)
        return SchemaVersion(
            event_type=match["name"],
            version=int(match["version"]),
            topic=payload["jetbridge.topic"],
            key_field=payload["jetbridge.key"],
            envelope_version=envelope_version,
            definition=definition,
            parsed=parsed,
            fingerprint=bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")),
        )

    def latest(self, event_type: str) -> SchemaVersion:
        versions = self._by_type.get(event_type)
        if not versions:
            raise UnknownEventType(
                f"no schema for event type {event_type!r} under schemas/avro/events/"
            )
        return versions[max(versions)]

    def version(self, event_type: str, version: int) -> SchemaVersion:
        try:
            return self._by_type[event_type][version]
        except KeyError:
            raise UnknownEventType(f"no schema {event_type}.v{version}") from None

    def by_fingerprint(self, fingerprint_bytes: bytes) -> SchemaVersion:
        try:
            return self._by_fingerprint[fingerprint_bytes]
        except KeyError:
            raise UnknownSchemaFingerprint(fingerprint_bytes) from None

    def event_types(self) -> list[str]:
        return sorted(self._by_type)

    def versions(self, event_type: str) -> list[SchemaVersion]:
        return [self._by_type[event_type][v] for v in sorted(self._by_type[event_type])]


def _load_envelopes(root: Path) -> dict[int, dict[str, Any]]:
    envelopes: dict[int, dict[str, Any]] = {}
    for path in sorted(root.glob("Envelope.v*.avsc")):
        match = _VERSIONED_FILE.match(path.name)
        if match:
            envelopes[int(match["version"])] = json.loads(path.read_text())
    if not envelopes:
        raise FileNotFoundError(f"no Envelope.v<N>.avsc under {root}")
    return envelopes


@lru_cache(maxsize=1)
def default_registry() -> SchemaRegistry:
    return SchemaRegistry()
