"""The bench's execution check tells a re-run under a new claim from a double execution."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench" / "e2e"))
from executions import FlightEvent, tally

FID = "fo-1/dep-1/destination"


class Log:
    def __init__(self) -> None:
        self.events: list[FlightEvent] = []

    def add(self, event_type: str, **payload: Any) -> Log:
        payload.setdefault("flight_id", FID)
        self.events.append(FlightEvent(f"e{len(self.events)}", event_type, payload))
        return self

    def claimed(self, token: int, owner: str = "pilot-a") -> Log:
        return self.add("FlightClaimed", owner=owner, fencing_token=token)

    def started(self, step: str, attempt: int = 1) -> Log:
        return self.add("FlightStepStarted", step=step, attempt=attempt)

    def succeeded(self, step: str, attempt: int = 1) -> Log:
        return self.add("FlightStepSucceeded", step=step, attempt=attempt, started_at=None)


def test_one_claim_one_start_one_success_is_clean() -> None:
    log = Log().claimed(1).started("CREATE_NAMESPACE").succeeded("CREATE_NAMESPACE")
    got = tally(log.events)
    assert got["no_double_execution"] and got["reruns_after_lost_lease"] == 0
    assert (got["flights"], got["step_starts"], got["step_successes"]) == (1, 1, 1)


def test_a_step_re_run_under_a_new_claim_is_a_recovery_not_a_double() -> None:
    log = Log().claimed(1).started("UPSERT_DEPLOYMENT")  # then the lease expired
    log.claimed(2).started("UPSERT_DEPLOYMENT").succeeded("UPSERT_DEPLOYMENT")
    got = tally(log.events)
    assert got["no_double_execution"], got
    assert got["reruns_after_lost_lease"] == 1
    assert got["reruns_after_lost_lease_shown"] == [
        f"{FID}/UPSERT_DEPLOYMENT#1: started 2x under new claims"
    ]
    assert (got["flights"], got["flight_claims"]) == (1, 2)


def test_two_starts_under_one_claim_are_a_double_execution() -> None:
    log = Log().claimed(1).started("FENCE_DATABASE").started("FENCE_DATABASE")
    got = tally(log.events)
    assert not got["no_double_execution"]
    assert got["double_executions"] == [f"{FID}/FENCE_DATABASE#1: started 2x under one claim"]


def test_two_successes_are_a_double_execution_whatever_the_claims() -> None:
    log = Log().claimed(1).succeeded("WAIT_READY").claimed(2).succeeded("WAIT_READY")
    got = tally(log.events)
    assert got["double_executions"] == [f"{FID}/WAIT_READY: 2 successes"]


def test_republished_events_and_provisioning_flights_are_not_counted() -> None:
    log = Log().claimed(1).started("CREATE_NAMESPACE")
    log.events.append(log.events[-1])  # the relay published the batch twice
    log.add("FlightClaimed", flight_id="provision/dep-1", owner="pilot-a", fencing_token=1)
    got = tally(log.events)
    assert got["no_double_execution"]
    assert (got["flights"], got["step_starts"]) == (1, 1)
