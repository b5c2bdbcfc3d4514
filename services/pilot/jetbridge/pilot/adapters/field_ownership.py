"""Fields a create wrote, handed to the Pilot's server-side apply (as kubectl's csaupgrade).

Why: the Pilot creates an object with a plain create where it must not overwrite one
made meanwhile (a guarded write of a newer mission's namespace or component; a
generated key). The API server records a create's fields under the manager with
operation ``Update``; a later server-side apply of the same manager owns only what its
``Apply`` entry lists, so a field the next manifest leaves out (a component's limits,
say, once its configuration no longer names them) would stay for good. Found on
kube-apiserver v1.36 (tests/unit/pilot/cluster_contract.py). Turning the create's
entry into the manager's ``Apply`` entry, right after the create, makes the next apply
remove such a field, as if the object had been applied from the start.

If that hand-over never happened (the create's step failed between the two calls, and
its re-run applied over the object), the manager has both entries; ``ownership_patch``
then merges the create's fields into the ``Apply`` entry and removes the other. The
kube adapter then applies once more: during the apply that found both entries, a field
only the create's entry owned was not the apply's to remove.
"""

from __future__ import annotations

from typing import Any

Manifest = dict[str, Any]


def ownership_patch(obj: Manifest, manager: str) -> list[Manifest] | None:
    """The JSON patch that leaves ``manager`` one ``Apply`` entry owning what its create
    wrote (a hand-over, or a merge of the two entries); None: nothing to do."""
    if (index := created_entry(obj, manager)) is not None:
        return hand_over(index, manager)
    if (pair := leftover_create(obj, manager)) is not None:
        return merge_into_apply(obj, *pair, manager)
    return None


def created_entry(obj: Manifest, manager: str) -> int | None:
    """Index of ``manager``'s ``Update`` entry on the object itself (no subresource)
    when it has no ``Apply`` entry of its own: a create's, to hand over. None: nothing
    to do (already applied, or fields another way owns: left as they are)."""
    mine = _own_entries(obj, manager)
    return None if "Apply" in mine else mine.get("Update")


def _own_entries(obj: Manifest, manager: str) -> dict[str, int]:
    """Index of ``manager``'s entry on the object itself (no subresource), by operation
    (the API server keeps one entry per manager, operation and subresource)."""
    entries = (obj.get("metadata") or {}).get("managedFields") or []
    found: dict[str, int] = {}
    for i, e in enumerate(entries):
        if e.get("manager") == manager and not e.get("subresource"):
            found.setdefault(str(e.get("operation")), i)
    return found


def hand_over(index: int, manager: str) -> list[Manifest]:
    """A JSON patch turning entry ``index`` into ``manager``'s Apply entry, refused by
    the API server (422) if the entries moved since they were read."""
    path = f"/metadata/managedFields/{index}"
    return [
        {"op": "test", "path": f"{path}/manager", "value": manager},
        {"op": "test", "path": f"{path}/operation", "value": "Update"},
        {"op": "replace", "path": f"{path}/operation", "value": "Apply"},
    ]


def leftover_create(obj: Manifest, manager: str) -> tuple[int, int] | None:
    """(Apply index, Update index) when ``manager`` has both entries on the object
    itself: a create's entry never handed over, then an apply. None otherwise."""
    mine = _own_entries(obj, manager)
    if "Apply" in mine and "Update" in mine:
        return mine["Apply"], mine["Update"]
    return None


def merge_into_apply(
    obj: Manifest, apply_index: int, update_index: int, manager: str
) -> list[Manifest]:
    """A JSON patch giving the Apply entry the union of both entries' fields and
    removing the Update entry; refused (422) if the entries moved since ``obj`` was read.

    The field sets are tested too: every mission's Pilot applies as the same manager, so
    a newer mission's apply between the read and this patch changes only the Apply
    entry's fields, and must not be overwritten with a union of older ones."""
    entries = obj["metadata"]["managedFields"]
    patch: list[Manifest] = []
    fields: Manifest = {}
    for index, operation in ((apply_index, "Apply"), (update_index, "Update")):
        path, entry = f"/metadata/managedFields/{index}", entries[index]
        patch += [
            {"op": "test", "path": f"{path}/manager", "value": manager},
            {"op": "test", "path": f"{path}/operation", "value": operation},
        ]
        if "fieldsV1" in entry:
            patch.append({"op": "test", "path": f"{path}/fieldsV1", "value": entry["fieldsV1"]})
        fields = union(fields, entry.get("fieldsV1") or {})
    return [
        *patch,
        {
            "op": "replace",
            "path": f"/metadata/managedFields/{apply_index}/fieldsV1",
            "value": fields,
        },
        {"op": "remove", "path": f"/metadata/managedFields/{update_index}"},
    ]


def union(a: Manifest, b: Manifest) -> Manifest:
    """Two ``FieldsV1`` sets as one: nested maps of ``f:``/``k:``/``v:``/``i:`` keys whose
    leaves are ``{}`` (the field itself, ``"."``, when it has members too)."""
    merged = dict(a)
    for key, value in b.items():
        mine = merged.get(key)
        merged[key] = (
            union(mine, value) if isinstance(mine, dict) and isinstance(value, dict) else value
        )
    return merged
