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
"""

from __future__ import annotations

from typing import Any

Manifest = dict[str, Any]


def created_entry(obj: Manifest, manager: str) -> int | None:
    """Index of ``manager``'s ``Update`` entry on the object itself (no subresource)
    when it has no ``Apply`` entry of its own: a create's, to hand over. None: nothing
    to do (already applied, or fields another way owns: left as they are)."""
    entries = (obj.get("metadata") or {}).get("managedFields") or []
    mine = [
        (i, e)
        for i, e in enumerate(entries)
        if e.get("manager") == manager and not e.get("subresource")
    ]
    if any(e.get("operation") == "Apply" for _, e in mine):
        return None
    return next((i for i, e in mine if e.get("operation") == "Update"), None)


def hand_over(index: int, manager: str) -> list[Manifest]:
    """A JSON patch turning entry ``index`` into ``manager``'s Apply entry, refused by
    the API server (422) if the entries moved since they were read."""
    path = f"/metadata/managedFields/{index}"
    return [
        {"op": "test", "path": f"{path}/manager", "value": manager},
        {"op": "test", "path": f"{path}/operation", "value": "Update"},
        {"op": "replace", "path": f"{path}/operation", "value": "Apply"},
    ]
