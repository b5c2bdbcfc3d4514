"""The Pilot's pure domain: next action, reports, manifests, image references."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from jetbridge.common.events import EventCodec
from jetbridge.flightdeck.models import Flight, FlightState, Side
from jetbridge.pilot.adapters.events import AvroEventEncoder
from jetbridge.pilot.domain import reports
from jetbridge.pilot.domain.airflow import DeploymentSpec, image_to_pull, slug
from jetbridge.pilot.domain.decisions import Cancel, Complete, Release, RunStep, next_action
from jetbridge.pilot.domain.steps import (
    Drained,
    ErrorCode,
    Fenced,
    FenceRefused,
    StepFailure,
    Succeeded,
)

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def flight(**changes: object) -> Flight:
    base = Flight(
        flight_id="r/d/source",
        mission_id="r/d",
        request_id="r",
        deployment_id="d",
        side=Side.SOURCE,
        mode="CONTROLLED",
        plan=[
            {"name": "STOP_SCHEDULING", "deadline_seconds": 30, "params": {"x": 1}},
            {"name": "DRAIN_TASKS", "deadline_seconds": 60, "params": {}},
        ],
        fencing_epoch=2,
        state=FlightState.RUNNING,
        current_step=0,
        step_results={},
        error=None,
        lease_owner="p",
        lease_expires_at=NOW,
        attempt=1,
        fencing_token=1,
        cancel_requested=False,
        created_at=NOW,
        updated_at=NOW,
        finished_at=None,
        cleared_through=0,
        step_attempts={0: 2},
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_next_action_runs_only_cleared_steps_in_order() -> None:
    assert next_action(flight(), NOW) == RunStep(0, "STOP_SCHEDULING", 2, 30, {"x": 1})
    assert isinstance(next_action(flight(current_step=1), NOW), Release)
    assert next_action(flight(current_step=1, cleared_through=1), NOW) == RunStep(
        1, "DRAIN_TASKS", 1, 60, {}
    )
    assert isinstance(next_action(flight(current_step=2, cleared_through=1), NOW), Complete)
    assert isinstance(next_action(flight(cancel_requested=True), NOW), Cancel)
    later = flight(not_before=NOW + timedelta(seconds=5))
    assert isinstance(next_action(later, NOW), Release)  # a retry's backoff
    # ... unless the database granted the claim after it: its clock is the judge.
    granted = NOW + timedelta(seconds=6)
    assert isinstance(next_action(later, NOW, granted), RunStep)
    assert isinstance(next_action(later, NOW, NOW - timedelta(seconds=1)), Release)
    assert isinstance(next_action(flight(cleared_through=None, current_step=1), NOW), RunStep)


def test_outcomes_report_the_richer_event_of_drain_and_fence() -> None:
    f = flight()
    kinds = [
        reports.outcome(f, "DRAIN_TASKS", 1, Drained(0, False), 5)[0].event_type,
        reports.outcome(f, "DRAIN_TASKS", 1, Drained(3, True), 5)[0].event_type,
        reports.outcome(f, "FENCE_DATABASE", 1, Fenced(2, "a", "b", 0), 5)[0].event_type,
        reports.outcome(f, "WAIT_READY", 1, Succeeded(), 5)[0].event_type,
    ]
    assert kinds == ["DrainCompleted", "DrainTimedOut", "FencingCompleted", "FlightStepSucceeded"]
    timed_out = reports.outcome(f, "DRAIN_TASKS", 3, Drained(3, True), 5)[0].payload
    assert (timed_out["tasks_still_running"], timed_out["attempt"]) == (3, 3)


def test_a_refused_fence_is_reported_beside_the_failure() -> None:
    failure = StepFailure(ErrorCode.FENCING_REFUSED, "stale", transient=False)
    refused = FenceRefused(1, 4, "x_b", "x_a")
    items = reports.failed(flight(), "FENCE_DATABASE", 1, failure, 9, refused)
    assert [i.event_type for i in items] == ["FlightStepFailed", "FencingRefused"]
    assert items[0].payload["transient"] is False
    assert items[1].payload["current_epoch"] == 4


def test_every_report_encodes_against_its_schema() -> None:
    f = flight()
    failure = StepFailure(
        ErrorCode.IMAGE_PULL_FAILED, "image r/a:1 cannot be pulled", transient=True
    )
    items = [
        reports.claimed(f, "pilot-1", 3, 2, 1),
        reports.started(f.flight_id, "DRAIN_TASKS", 1, 1),
        *reports.outcome(f, "DRAIN_TASKS", 1, Drained(2, True), 2),
        *reports.outcome(f, "FENCE_DATABASE", 1, Fenced(2, "a", "b", 1), 2),
        *reports.outcome(f, "WAIT_READY", 1, Succeeded(), 2),
        *reports.failed(f, "UPSERT_DEPLOYMENT", 1, failure, 3, FenceRefused(1, 2, "b", "a")),
    ]
    codec = EventCodec()
    for item, row in zip(items, AvroEventEncoder(codec).encode(f, items), strict=True):
        decoded = codec.decode(row.payload)
        assert (decoded.event_type, dict(decoded.payload)) == (item.event_type, item.payload)
        assert row.key == f.flight_id.encode() and row.topic == "jetbridge.flight.events"


def test_the_pilot_pulls_the_image_the_control_plane_qualified() -> None:
    assert image_to_pull("reg.example.com/org/airflow:1") == "reg.example.com/org/airflow:1"
    assert image_to_pull("localhost:5000/a:1") == "localhost:5000/a:1"
    for bare in ("org/airflow:1", "airflow:1"):
        with pytest.raises(StepFailure) as refused:
            image_to_pull(bare)
        failure = refused.value
        assert failure.code is ErrorCode.IMAGE_NOT_QUALIFIED and not failure.transient
        assert bare in failure.message and "JETBRIDGE_REGISTRY" in failure.message
    with pytest.raises(StepFailure) as empty:
        image_to_pull("")
    assert empty.value.code is ErrorCode.IMAGE_PULL_FAILED


def test_names_are_dns_labels() -> None:
    spec = DeploymentSpec("Req 1/Dép_42", "img")
    # folded, so it keeps a readable head and a hash of the id (jetbridge.common.naming)
    assert spec.release == slug("Req 1/Dép_42") and spec.release.startswith("req-1-d-p-42-")
    assert spec.namespace == f"airflow-{spec.release}"
    assert len(slug("x" * 200)) == 40
    assert slug("demo-af001") == "demo-af001"


@pytest.mark.parametrize(
    ("annotations", "flight_epoch", "newer"),
    [
        ({"jetbridge.io/fencing-epoch": "3"}, 2, 3),
        ({"jetbridge.io/fencing-epoch": "2"}, 2, None),  # this mission's own copy
        ({"jetbridge.io/fencing-epoch": "1"}, 2, None),
        ({"jetbridge.io/fencing-epoch": "x"}, 2, None),  # unreadable: tells nothing
        (None, 2, None),  # made before the annotation existed
    ],
)
def test_only_a_newer_epoch_on_the_namespace_keeps_it(
    annotations: dict[str, str] | None, flight_epoch: int, newer: int | None
) -> None:
    from jetbridge.pilot.domain.airflow import newer_copy_epoch  # noqa: PLC0415

    namespace = {"metadata": {"name": "airflow-d", "annotations": annotations}}
    assert newer_copy_epoch(namespace, flight_epoch) == newer
    assert newer_copy_epoch(None, flight_epoch) is None
