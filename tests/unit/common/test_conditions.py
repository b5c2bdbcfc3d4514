"""jetbridge.common.conditions: a condition found on any well-formed status, and None
(never an exception) on the half-written objects an API server can return."""

from __future__ import annotations

from typing import Any

import pytest

from jetbridge.common.conditions import condition

READY = {"type": "Ready", "status": "False", "reason": "ValidationFailed"}


@pytest.mark.parametrize(
    "obj",
    [
        {},
        {"status": None},
        {"status": "pending"},
        {"status": {}},
        {"status": {"conditions": None}},
        {"status": {"conditions": "Ready"}},
        {"status": {"conditions": ["Ready", 3, None]}},
        {"status": {"conditions": [{"type": "Synced", "status": "True"}]}},
    ],
)
def test_no_ready_condition_is_none(obj: dict[str, Any]) -> None:
    assert condition(obj) is None


def test_the_condition_of_the_type_asked_for() -> None:
    synced = {"type": "Synced", "status": "True"}
    obj = {"status": {"conditions": [synced, "junk", READY]}}
    assert condition(obj) == READY
    assert condition(obj, "Synced") == synced
    assert condition(obj, "Deleted") is None
