"""The events a Pilot reports, as (event type, payload) pairs matching the Avro schemas.

One attempt of a step reports exactly one outcome: ``FlightStepSucceeded``, or the
richer ``DrainCompleted``/``DrainTimedOut`` for the drain and ``FencingCompleted`` for
the fence (Navigator reads those instead), or ``FlightStepFailed`` (with
``FencingRefused`` beside it for a stale epoch). A long attempt reports
``FlightStepStarted`` first, while it runs; otherwise the outcome's ``started_at`` says
when it started. Times are epoch milliseconds. Secret values never appear: names and
counts only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jetbridge.flightdeck.models import Flight
from jetbridge.pilot.domain.steps import (
    Drained,
    Fenced,
    FenceRefused,
    StepFailure,
    StepOutcome,
)

MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class Report:
    event_type: str
    payload: dict[str, Any]


def claimed(flight: Flight, owner: str, fencing_token: int, claim_attempt: int, at: int) -> Report:
    return Report(
        "FlightClaimed",
        {
            "flight_id": flight.flight_id,
            "mission_id": flight.mission_id,
            "deployment_id": flight.deployment_id,
            "owner": owner,
            "claim_attempt": claim_attempt,
            "fencing_token": fencing_token,
            "current_step": flight.current_step,
            "claimed_at": at,
        },
    )


def started(flight_id: str, step: str, attempt: int, at: int) -> Report:
    return Report(
        "FlightStepStarted",
        {"flight_id": flight_id, "step": step, "attempt": attempt, "started_at": at},
    )


def outcome(
    flight: Flight,
    step: str,
    attempt: int,
    result: StepOutcome,
    at: int,
    *,
    started_at: int | None = None,
) -> list[Report]:
    """The event(s) that end a successful attempt; ``started_at`` when no
    FlightStepStarted was reported for it."""
    return [_with_start(r, started_at) for r in _outcome(flight, step, attempt, result, at)]


def _with_start(report: Report, started_at: int | None) -> Report:
    return Report(report.event_type, {**report.payload, "started_at": started_at})


def _outcome(flight: Flight, step: str, attempt: int, result: StepOutcome, at: int) -> list[Report]:
    fid = flight.flight_id
    if isinstance(result, Drained):
        if result.timed_out:
            return [
                Report(
                    "DrainTimedOut",
                    {
                        "flight_id": fid,
                        "attempt": attempt,
                        "tasks_still_running": result.still_running,
                        "timed_out_at": at,
                    },
                )
            ]
        return [Report("DrainCompleted", {"flight_id": fid, "attempt": attempt, "drained_at": at})]
    if isinstance(result, Fenced):
        return [
            Report(
                "FencingCompleted",
                {
                    "flight_id": fid,
                    "mission_id": flight.mission_id,
                    "deployment_id": flight.deployment_id,
                    "epoch": result.epoch,
                    "active_role": result.active_role,
                    "fenced_role": result.fenced_role,
                    "sessions_terminated": result.sessions_terminated,
                    "attempt": attempt,
                    "fenced_at": at,
                },
            )
        ]
    return [
        Report(
            "FlightStepSucceeded",
            {"flight_id": fid, "step": step, "attempt": attempt, "succeeded_at": at},
        )
    ]


def failed(  # noqa: PLR0917 - one report's facts
    flight: Flight,
    step: str,
    attempt: int,
    failure: StepFailure,
    at: int,
    refused: FenceRefused | None = None,
    *,
    started_at: int | None = None,
) -> list[Report]:
    """FlightStepFailed (``started_at`` as in :func:`outcome`), and FencingRefused."""
    reports = [
        Report(
            "FlightStepFailed",
            {
                "flight_id": flight.flight_id,
                "step": step,
                "attempt": attempt,
                "error_code": failure.code.value,
                "error": failure.message[:MAX_ERROR_CHARS],
                "transient": failure.transient,
                "failed_at": at,
                "started_at": started_at,
            },
        )
    ]
    if refused is not None:
        reports.append(
            Report(
                "FencingRefused",
                {
                    "flight_id": flight.flight_id,
                    "mission_id": flight.mission_id,
                    "deployment_id": flight.deployment_id,
                    "attempted_epoch": refused.attempted_epoch,
                    "current_epoch": refused.current_epoch,
                    "requested_active_role": refused.requested_active_role,
                    "current_active_role": refused.current_active_role,
                    "reason": "STALE_EPOCH",
                },
            )
        )
    return reports


# Outcomes whose payload names no step: the step is implied by the event type.
_IMPLIED_STEP = {
    "DrainCompleted": "DRAIN_TASKS",
    "DrainTimedOut": "DRAIN_TASKS",
    "FencingCompleted": "FENCE_DATABASE",
}
# The report types that say an attempt succeeded (a drain that timed out still ended).
SUCCESSES = frozenset({"FlightStepSucceeded", *_IMPLIED_STEP})
_OUTCOMES = frozenset({"FlightStepFailed", *SUCCESSES})


def step_of(event_type: str, payload: Mapping[str, Any]) -> str | None:
    """The step a report is about: its ``step``, or the one its type implies."""
    step = payload.get("step") or _IMPLIED_STEP.get(event_type)
    return None if step is None else str(step)


def start_of(event_type: str, payload: Mapping[str, Any]) -> tuple[str, int] | None:
    """``(step, attempt)`` when a report says an attempt started: a FlightStepStarted,
    or an outcome that carries ``started_at``. Counting these counts executions."""
    if event_type == "FlightStepStarted" or (
        event_type in _OUTCOMES and payload.get("started_at") is not None
    ):
        return str(step_of(event_type, payload)), int(payload["attempt"])
    return None


def first_start(previous: Mapping[str, Any] | None, attempt: int, now: int) -> int:
    """When the step's first attempt started (wall ms), for a step about to run ``attempt``.

    What Flightdeck holds for the step carries it forward (``first_started_at``): a
    failed earlier attempt's result, or the note a long step leaves while it runs
    (:func:`running_note`), which a Pilot killed mid-step never replaced, so the next
    claim re-running the same attempt finds it. The first attempt, or one whose
    predecessor left neither (an older Pilot), starts it ``now``. The drain's timeout
    counts from there: a retry or a re-run waits what is left of it, not a fresh
    timeout each time.
    """
    if not previous or previous.get("ok") is True:
        return now
    failed_before = previous.get("ok") is False and int(previous.get("attempt", 0)) < attempt
    ran_before = previous.get("running") is True and int(previous.get("attempt", 0)) <= attempt
    if failed_before or ran_before:
        return int(previous.get("first_started_at") or now)
    return now


def running_note(attempt: int, first_started_at: int) -> dict[str, Any]:
    """What Flightdeck keeps as a long step's result while it runs (see first_start)."""
    return {"running": True, "attempt": attempt, "first_started_at": first_started_at}


def step_result(
    result: StepOutcome | StepFailure, attempt: int, at: int, first_started_at: int | None = None
) -> dict[str, Any]:
    """What Flightdeck stores for the step (JSON, no secret values)."""
    if isinstance(result, StepFailure):
        failed: dict[str, Any] = {
            "ok": False,
            "attempt": attempt,
            "error_code": result.code.value,
            "error": result.message[:MAX_ERROR_CHARS],
            "transient": result.transient,
            "at": at,
        }
        if first_started_at is not None:  # for the next attempt: see first_start
            failed["first_started_at"] = first_started_at
        return failed
    body: dict[str, Any] = {"ok": True, "attempt": attempt, "at": at}
    if isinstance(result, Drained):
        body.update(
            still_running=result.still_running,
            timed_out=result.timed_out,
            by_state=dict(result.by_state),
            waited_seconds=round(result.waited_seconds, 3),
        )
    elif isinstance(result, Fenced):
        body.update(epoch=result.epoch, already_applied=result.already_applied)
    else:
        body.update(result.details)
    return body
