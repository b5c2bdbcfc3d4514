"""Which managedFields entry a create left to the Pilot's apply, and the patches that fix it."""

from __future__ import annotations

from jetbridge.pilot.adapters.field_ownership import (
    created_entry,
    hand_over,
    leftover_create,
    merge_into_apply,
    ownership_patch,
    union,
)

ME = "jetbridge-pilot"


def obj(*entries: dict[str, object]) -> dict[str, object]:
    return {"metadata": {"managedFields": list(entries)}}


def test_the_create_entry_is_found_among_a_controllers_status_entries() -> None:
    status = {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status"}
    created = {"manager": ME, "operation": "Update"}
    assert created_entry(obj(status, created), ME) == 1


def test_nothing_to_hand_over_once_applied_or_when_someone_else_created_it() -> None:
    assert created_entry(obj({"manager": ME, "operation": "Apply"}), ME) is None
    both = obj({"manager": ME, "operation": "Update"}, {"manager": ME, "operation": "Apply"})
    assert created_entry(both, ME) is None  # two entries: merged, not handed over
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


def test_a_create_never_handed_over_is_merged_into_the_apply_entry() -> None:
    status = {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status"}
    applied = {"manager": ME, "operation": "Apply", "fieldsV1": {"f:spec": {"f:replicas": {}}}}
    created = {
        "manager": ME,
        "operation": "Update",
        "fieldsV1": {"f:spec": {".": {}, "f:replicas": {}, "f:template": {"f:limits": {}}}},
    }
    found = obj(status, applied, created)
    assert leftover_create(found, ME) == (1, 2)
    assert created_entry(found, ME) is None
    patch = ownership_patch(found, ME)
    assert patch == merge_into_apply(found, 1, 2, ME)
    assert [op["op"] for op in patch] == ["test"] * 6 + ["replace", "remove"]
    # both field sets as read: a newer apply between the read and the patch refuses it
    assert {
        "op": "test",
        "path": "/metadata/managedFields/1/fieldsV1",
        "value": applied["fieldsV1"],
    } in patch
    assert {
        "op": "test",
        "path": "/metadata/managedFields/2/fieldsV1",
        "value": created["fieldsV1"],
    } in patch
    assert patch[6] == {
        "op": "replace",
        "path": "/metadata/managedFields/1/fieldsV1",
        "value": {"f:spec": {"f:replicas": {}, ".": {}, "f:template": {"f:limits": {}}}},
    }
    assert patch[7] == {"op": "remove", "path": "/metadata/managedFields/2"}


def test_ownership_needs_no_patch_with_one_entry_and_hands_over_a_create() -> None:
    assert ownership_patch(obj({"manager": ME, "operation": "Apply"}), ME) is None
    assert leftover_create(obj({"manager": ME, "operation": "Apply"}), ME) is None
    assert ownership_patch(obj({"manager": ME, "operation": "Update"}), ME) == hand_over(0, ME)


def test_the_union_of_field_sets_keeps_every_field_of_both() -> None:
    a = {"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:replicas": {}}}
    b = {"f:metadata": {"f:labels": {"f:tier": {}}, "f:annotations": {}}}
    assert union(a, b) == {
        "f:metadata": {"f:labels": {"f:app": {}, "f:tier": {}}, "f:annotations": {}},
        "f:spec": {"f:replicas": {}},
    }
    assert a == {"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:replicas": {}}}
