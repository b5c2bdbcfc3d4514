from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jetbridge.agent.domain.flights import (
    ClearSteps,
    DeploymentSpecRef,
    InvalidClearance,
    InvalidFlight,
    PlanStep,
    StartFlight,
    clearance_range,
    first_clearance_range,
    new_flight,
)
from jetbridge.common.tls import cluster_id_of, cluster_identity, dns_name
from jetbridge.flightdeck import Flight, FlightState, Side
from jetbridge.flightdeck.models import PLAN_STEPS
from jetbridge.navigator.domain.vocabulary import StepName
from jetbridge.pilot.service_layer.steps import STEPS

AVRO = Path(__file__).resolve().parents[3] / "schemas" / "avro" / "events"


def _command(**changes: object) -> StartFlight:
    values: dict[str, object] = {
        "flight_id": "f",
        "mission_id": "m",
        "request_id": "r",
        "deployment_id": "d",
        "side": Side.DESTINATION,
        "mode": "CONTROLLED",
        "fencing_epoch": 4,
        "steps": (PlanStep("CREATE_NAMESPACE", 60), PlanStep("DRAIN_TASKS")),
        "deployment_spec": DeploymentSpecRef("d", image="img"),
        "drain_timeout_seconds": 300,
    }
    values.update(changes)
    return StartFlight(**values)  # type: ignore[arg-type]


def test_plan_carries_each_step_with_its_parameters() -> None:
    flight = new_flight(_command())
    assert [step["name"] for step in flight.plan] == ["CREATE_NAMESPACE", "DRAIN_TASKS"]
    assert flight.plan[0]["deadline_seconds"] == 60
    assert flight.plan[1]["params"]["drain_timeout_seconds"] == 300
    assert flight.plan[0]["params"]["deployment_spec"]["image"] == "img"


@pytest.mark.parametrize(
    "changes",
    [
        {"flight_id": ""},
        {"mode": "SIDEWAYS"},
        {"fencing_epoch": 0},
        {"steps": ()},
        {"deployment_id": "d" * 192},
        {"flight_id": "f\x00"},
    ],
)
def test_invalid_commands_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidFlight):
        new_flight(_command(**changes))


def test_a_step_this_data_plane_does_not_run_is_refused_naming_it() -> None:
    """A newer control plane's step: refused at StartFlight (the Dispatcher reports a
    permanent FlightDispatchFailed), not stored for a Pilot that could not run it."""
    with pytest.raises(InvalidFlight, match="runs no step RENAME_UNIVERSE") as refused:
        new_flight(_command(steps=(PlanStep("CREATE_NAMESPACE"), PlanStep("RENAME_UNIVERSE"))))
    assert "upgrade it before the control plane" in str(refused.value)


def test_the_plan_vocabulary_is_the_pilots_and_the_event_schemas() -> None:
    assert set(PLAN_STEPS) == set(STEPS) == {s.value for s in StepName}
    schema = json.loads((AVRO / "FlightDispatched.v1.avsc").read_text())
    (steps,) = [f for f in schema["fields"] if f["name"] == "steps"]
    assert set(steps["type"]["items"]["symbols"]) == set(PLAN_STEPS)


def test_a_long_id_is_refused_naming_the_field_and_the_limit() -> None:
    with pytest.raises(InvalidFlight, match=r"deployment_id must be at most 191 .* got 300"):
        new_flight(_command(deployment_id="é" * 300))
    long_id = "é" * 191  # the limit itself is fine
    new_flight(_command(deployment_id=long_id, deployment_spec=DeploymentSpecRef(long_id)))


def test_a_spec_of_another_deployment_is_refused_naming_both() -> None:
    """The Pilot names the namespace and fences the databases after the spec's id: a
    flight of Deployment d carrying e's spec would act on e."""
    with pytest.raises(InvalidFlight, match=r"deployment_spec\.deployment_id 'e' is not .* 'd'"):
        new_flight(_command(deployment_spec=DeploymentSpecRef("e", image="img")))
    new_flight(_command(deployment_spec=DeploymentSpecRef("", image="img")))  # d's by default


def test_identities() -> None:
    assert cluster_identity("east-1") == "spiffe://jetbridge/cluster/east-1"
    assert cluster_id_of("spiffe://jetbridge/cluster/east-1") == "east-1"
    assert dns_name("spiffe://jetbridge/cluster/east-1") == "east-1.cluster.jetbridge.internal"
    with pytest.raises(ValueError):
        cluster_identity("Not_A_Label")


def test_ensure_certificates_is_idempotent_and_names_each_party(tmp_path: object) -> None:
    from pathlib import Path  # noqa: PLC0415

    from jetbridge.common.tls import (  # noqa: PLC0415
        CONTROL_PLANE_URI,
        certificate_identities,
        ensure_certificates,
    )

    root = Path(str(tmp_path))
    layout = ensure_certificates(root, ["a", "b"])
    first = layout.cluster("a").cert.read_bytes()
    again = ensure_certificates(root, ["a", "b", "c"])
    assert again.cluster("a").cert.read_bytes() == first  # kept, not reissued
    assert certificate_identities(again.cluster("c").cert.read_bytes()) == [cluster_identity("c")]
    assert certificate_identities(again.control_plane().cert.read_bytes()) == [CONTROL_PLANE_URI]
    assert oct(again.cluster("c").key.stat().st_mode & 0o777) == "0o600"


def _stored(steps: tuple[str, ...]) -> Flight:
    new = new_flight(_command(steps=tuple(PlanStep(s) for s in steps)))
    now = datetime.now(UTC)
    return Flight(
        **{f: getattr(new, f) for f in ("flight_id", "mission_id", "request_id")},
        deployment_id=new.deployment_id,
        side=new.side,
        mode=new.mode,
        plan=list(new.plan),
        fencing_epoch=new.fencing_epoch,
        state=FlightState.QUEUED,
        current_step=0,
        step_results={},
        error=None,
        lease_owner=None,
        lease_expires_at=None,
        attempt=0,
        fencing_token=0,
        cancel_requested=False,
        created_at=now,
        updated_at=now,
        finished_at=None,
        cleared_through=new.cleared_through,
    )


def test_new_flights_wait_for_a_clearance() -> None:
    assert new_flight(_command()).cleared_through == -1


def test_clearance_range_maps_a_run_of_step_names_to_plan_indexes() -> None:
    flight = _stored(("STOP_SCHEDULING", "DRAIN_TASKS", "DELETE_DEPLOYMENT"))

    def clear(*steps: str, clearance_id: str = "c1") -> tuple[int, int]:
        return clearance_range(flight, ClearSteps("f", steps, clearance_id))

    assert clear("STOP_SCHEDULING", "DRAIN_TASKS") == (0, 1)
    assert clear("DELETE_DEPLOYMENT") == (2, 2)
    assert clear("DRAIN_TASKS", "DELETE_DEPLOYMENT") == (1, 2)
    for bad in (
        ("DRAIN_TASKS", "STOP_SCHEDULING"),  # out of order
        ("STOP_SCHEDULING", "DELETE_DEPLOYMENT"),  # not contiguous
        ("WAIT_READY",),  # not in this plan
        ("DELETE_DEPLOYMENT", "DELETE_DEPLOYMENT"),  # past the end
        (),
    ):
        with pytest.raises(InvalidClearance):
            clear(*bad)
    with pytest.raises(InvalidClearance):
        clear("DRAIN_TASKS", clearance_id="")


def test_a_clearance_sent_with_its_flight_is_checked_against_the_flights_plan() -> None:
    def first(*steps: str, flight_id: str = "f") -> tuple[int, int] | None:
        clearance = ClearSteps(flight_id, steps, "c1", attempts=(1,) * len(steps))
        return first_clearance_range(_command(clearance=clearance))

    assert first_clearance_range(_command()) is None
    assert first("CREATE_NAMESPACE", "DRAIN_TASKS") == (0, 1)
    with pytest.raises(InvalidClearance, match="not a run of the plan"):
        first("CREATE_NAMESPACE", "WAIT_READY")
    with pytest.raises(InvalidClearance, match="names flight 'g', not 'f'"):
        first("CREATE_NAMESPACE", flight_id="g")
