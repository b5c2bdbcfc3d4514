"""The static facts source reads what a data plane reports from its JSON file."""

from __future__ import annotations

from jetbridge.agent.adapters.facts_static import facts_from_mapping


def test_the_database_side_is_read_upper_cased_and_empty_when_absent() -> None:
    assert facts_from_mapping({"database_side": "b"}).database_side == "B"
    assert facts_from_mapping({}).database_side == ""  # not reported: not checked
