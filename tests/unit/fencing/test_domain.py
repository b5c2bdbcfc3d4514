"""The pure fencing rules: epoch compare-and-set, value objects, event payloads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jetbridge.fencing.domain import (
    Decision,
    DeploymentDatabases,
    FencingOutcome,
    FencingPhase,
    FencingState,
    MissingPrivilege,
    OwnershipModel,
    Side,
    StaleFencingEpoch,
    decide,
    fencing_completed_payload,
    fencing_refused_payload,
)

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas" / "avro" / "events"


def state(epoch: int, side: Side, phase: FencingPhase = FencingPhase.ACTIVE) -> FencingState:
    return FencingState("d1", epoch, side, phase)


def test_newer_epoch_proceeds_whatever_the_side() -> None:
    assert decide(state(3, Side.A), 4, Side.B) is Decision.PROCEED
    assert decide(state(3, Side.A), 9, Side.A) is Decision.PROCEED


def test_same_epoch_same_side_is_idempotent_or_resumes() -> None:
    assert decide(state(3, Side.B), 3, Side.B) is Decision.ALREADY_APPLIED
    assert decide(state(3, Side.B, FencingPhase.FENCING), 3, Side.B) is Decision.RESUME


@pytest.mark.parametrize(("epoch", "side"), [(2, Side.A), (2, Side.B), (3, Side.A), (0, Side.A)])
def test_older_or_equal_other_side_is_refused(epoch: int, side: Side) -> None:
    with pytest.raises(StaleFencingEpoch) as refused:
        decide(state(3, Side.B), epoch, side)
    assert (refused.value.current_epoch, refused.value.attempted_epoch) == (3, epoch)
    assert "stale fencing epoch" in str(refused.value)


def test_provisioning_epoch_zero_only_reasserts_the_initial_side() -> None:
    assert decide(state(0, Side.A), 0, Side.A) is Decision.ALREADY_APPLIED
    with pytest.raises(StaleFencingEpoch):
        decide(state(0, Side.A), 0, Side.B)
    with pytest.raises(ValueError):
        decide(state(0, Side.A), -1, Side.A)


def test_active_side_is_none_mid_fence() -> None:
    assert state(2, Side.B, FencingPhase.FENCING).active_side is None
    assert state(2, Side.B).active_side is Side.B
    assert Side.A.other() is Side.B and Side.B.other() is Side.A


def test_deployment_names_are_validated() -> None:
    dep = DeploymentDatabases.named("Team X / prod", extra_databases=("celery",))
    base = dep.databases[0]
    assert base.startswith("airflow_team_x_prod_") and len(base) == len("airflow_team_x_prod_") + 8
    assert dep.databases == (base, f"{base}_celery")
    assert dep.role(Side.B) == f"{base}_b" and dep.epoch_database == dep.databases[0]
    with pytest.raises(ValueError, match="differ"):
        DeploymentDatabases("d", ("db",), "a", "a", "o", "d", "t")
    with pytest.raises(ValueError, match="NUL"):
        DeploymentDatabases("d", ("d\x00b",), "a", "b", "o", "d", "t")
    with pytest.raises(ValueError, match="63 bytes"):
        DeploymentDatabases("d", ("db",), "ü" * 32, "b", "o", "d", "t")
    with pytest.raises(ValueError, match="at least one"):
        DeploymentDatabases("d", (), "a", "b", "o", "d", "t", OwnershipModel.CUSTOMER_MANAGED)


def test_missing_privilege_names_the_privilege() -> None:
    error = MissingPrivilege("CREATEROLE", "role jetbridge", "permission denied to create role")
    assert str(error).startswith("missing privilege CREATEROLE on role jetbridge")


def _fields(event: str) -> list[str]:
    schema = json.loads((SCHEMAS / f"{event}.v1.avsc").read_text())
    return [f["name"] for f in schema["fields"]]


def test_fencing_completed_payload_matches_the_stored_schema() -> None:
    outcome = FencingOutcome("d1", 4, Side.B, "r_b", Side.A, "r_a", 2, 1.0, 2.0, 3.0)
    payload = fencing_completed_payload(
        outcome, flight_id="f", mission_id="m", attempt=1, fenced_at_ms=1_700_000_000_000
    )
    assert list(payload) == _fields("FencingCompleted")
    assert payload["epoch"] == 4 and payload["sessions_terminated"] == 2


def test_fencing_refused_payload_carries_both_epochs() -> None:
    dep = DeploymentDatabases.named("d1")
    refusal = StaleFencingEpoch("d1", 5, Side.B, 3, Side.A)
    payload = fencing_refused_payload(refusal, dep, flight_id="f", mission_id="m")
    assert payload == {
        "flight_id": "f",
        "mission_id": "m",
        "deployment_id": "d1",
        "attempted_epoch": 3,
        "current_epoch": 5,
        "requested_active_role": dep.role_a,
        "current_active_role": dep.role_b,
        "reason": "STALE_EPOCH",
    }
    refused_schema = SCHEMAS / "FencingRefused.v1.avsc"
    if refused_schema.exists():  # once the schema is published, the fields must agree
        assert list(payload) == _fields("FencingRefused")
