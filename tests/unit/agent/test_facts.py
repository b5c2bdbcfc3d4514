"""The static facts source reads what a data plane reports from its JSON file."""

from __future__ import annotations

from jetbridge.agent.adapters.convert import heartbeat_to_proto
from jetbridge.agent.adapters.facts_static import facts_from_mapping
from jetbridge.agent.service_layer.heartbeats import Beat
from jetbridge.dplink.adapters.convert import facts_payload


def test_the_database_side_is_read_upper_cased_and_empty_when_absent() -> None:
    assert facts_from_mapping({"database_side": "b"}).database_side == "B"
    assert facts_from_mapping({}).database_side == ""  # not reported: not checked


def test_the_plane_mode_is_unknown_unless_stated_and_read_in_any_case() -> None:
    """The spec refuses failover in unified mode, so an unstated mode must not pass as
    DATA: it reaches the control plane as UNKNOWN (PLANE_MODE_NOT_DATA blocks it)."""
    beat = Beat("dp-east", 1, 1_000, facts_from_mapping({}), ())
    assert facts_payload(heartbeat_to_proto(beat).heartbeat)["plane_mode"] == "UNKNOWN"
    for written, read in (("data", "DATA"), (" Data ", "DATA"), ("unified", "UNIFIED")):
        beat = Beat("dp-east", 1, 1_000, facts_from_mapping({"plane_mode": written}), ())
        assert facts_payload(heartbeat_to_proto(beat).heartbeat)["plane_mode"] == read
