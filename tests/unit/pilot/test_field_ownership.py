"""Which managedFields entry a create left to hand over, and the patch that does it."""

from __future__ import annotations

from jetbridge.pilot.adapters.field_ownership import created_entry, hand_over

ME = "jetbridge-pilot"


def obj(*entries: dict[str, str]) -> dict[str, object]:
    return {"metadata": {"managedFields": list(entries)}}


def test_the_create_entry_is_found_among_a_controllers_status_entries() -> None:
    status = {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status"}
    created = {"manager": ME, "operation": "Update"}
    assert created_entry(obj(status, created), ME) == 1


def test_nothing_to_hand_over_once_applied_or_when_someone_else_created_it() -> None:
    assert created_entry(obj({"manager": ME, "operation": "Apply"}), ME) is None
    both = obj({"manager": ME, "operation": "Update"}, {"manager": ME, "operation": "Apply"})
    assert created_entry(both, ME) is None  # merging two entries is not this module's
    assert created_entry(obj({"manager": "kubectl", "operation": "Update"}), ME) is None
    mine_on_status = {"manager": ME, "operation": "Update", "subresource": "status"}
    assert created_entry(obj(mine_on_status), ME) is None
    assert created_entry({"metadata": {}}, ME) is None


def test_the_patch_is_refused_if_the_entry_moved() -> None:
    patch = hand_over(2, ME)
    assert patch[:2] == [
        {"op": "test", "path": "/metadata/managedFields/2/manager", "value": ME},
        {"op": "test", "path": "/metadata/managedFields/2/operation", "value": "Update"},
    ]
    assert patch[2] == {
        "op": "replace",
        "path": "/metadata/managedFields/2/operation",
        "value": "Apply",
    }
