"""deploy/local/kube/eso_standin.py: new objects are not kept waiting by refreshes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "deploy" / "local" / "kube"))
from eso_standin import StandIn


def obj(uid: str, generation: int = 1, refresh: str = "1h") -> dict[str, Any]:
    return {
        "metadata": {"uid": uid, "generation": generation},
        "spec": {"refreshInterval": refresh},
    }


def test_new_and_changed_objects_go_before_refreshes_in_list_order() -> None:
    standin = StandIn(None, "http://store.invalid")  # type: ignore[arg-type]
    refresh, fresh, steady = obj("refresh"), obj("fresh"), obj("steady")
    changed = obj("changed")
    for synced in (refresh, steady, changed):
        standin.mark(synced, ok=True)
    standin.due["refresh"] = (1, 0.0)  # its refreshInterval has passed
    changed["metadata"]["generation"] = 2  # spec edited since its sync
    order = [o["metadata"]["uid"] for o in standin.new_first([refresh, steady, fresh, changed])]
    assert order == ["fresh", "changed", "refresh", "steady"]
    due = [o["metadata"]["uid"] for o in (refresh, steady, fresh, changed) if standin.is_due(o)]
    assert due == ["refresh", "fresh", "changed"]  # steady is synced and not due for 1h
