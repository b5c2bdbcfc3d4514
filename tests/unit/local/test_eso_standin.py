"""deploy/local/kube/eso_standin.py: new objects are not kept waiting by refreshes."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

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


def test_stores_are_checked_on_their_own_timer_while_an_object_pass_runs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A pass over objects blocked for a long time does not hold back the store checks,
    and a failed check does not end them (docs/local-kubernetes.md, store outage)."""
    standin = StandIn(None, "http://store.invalid")  # type: ignore[arg-type]
    checks: list[float] = []

    def check_stores() -> None:
        checks.append(time.monotonic())
        if len(checks) == 2:
            raise OSError("API server gone for a moment")

    standin.reconcile_stores = check_stores  # type: ignore[method-assign]
    stop = threading.Event()
    timer = threading.Thread(target=standin.validate_stores_every, args=(0.02, stop))
    timer.start()
    time.sleep(0.5)  # meanwhile the object loop would be stuck in a long pass
    stop.set()
    timer.join(1)
    assert not timer.is_alive()
    assert len(checks) >= 5  # every 0.02 s, the failed one included
    assert "store check failed: OSError: API server gone for a moment" in capsys.readouterr().out
