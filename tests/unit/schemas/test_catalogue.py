from __future__ import annotations

from jetbridge.common.events.catalogue import catalogue_path, render
from jetbridge.common.events.registry import SchemaRegistry


def test_docs_events_md_is_generated_from_the_current_schemas() -> None:
    expected = render(SchemaRegistry())
    assert catalogue_path().read_text() == expected, (
        "docs/events.md is stale: run `python -m jetbridge.common.events.catalogue`"
    )


def test_catalogue_names_every_event_its_topic_key_and_versions() -> None:
    registry = SchemaRegistry()
    text = render(registry)
    for event_type in registry.event_types():
        latest = registry.latest(event_type)
        assert f"### {event_type}" in text
        assert f"topic: `{latest.topic}`; key: `{latest.key_field}`" in text
        for version in registry.versions(event_type):
            assert version.fingerprint.hex() in text
